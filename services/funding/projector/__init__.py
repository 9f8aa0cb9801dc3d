"""Read models of the funding service, never refusing anything:
- policies.py, entries.py, assessments.py: InlineProjections of the service's own events, kept
  in the recording transaction by the kernel's unit of work (or by the assessor's append) and
  rebuilt from the store by shared.inline.InlineReplay("funding", spec.inline) (the guard,
  guards.py, goes with them);
- directory.py: kernel consumer projections of the enrollment stream (org tree, hosts, teachers,
  projects, check-ins), rebuilt from enrollment's feed;
- assessor.py: a kernel consumer projection of funding's own stream that records FundingAssessed
  (handlers/assess.py) when a verdict changes; it owns no table, and its rebuild records nothing.
"""
