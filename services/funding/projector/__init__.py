"""Read models of the funding service, never refusing anything:
- policies.py, entries.py: InlineProjections of the service's own events, kept in the command's
  transaction by the kernel's unit of work and rebuilt from the store by
  shared.inline.InlineReplay("funding", spec.inline) (the guard, guards.py, goes with them);
- directory.py: kernel consumer projections of the enrollment stream (org tree, hosts, teachers,
  projects, check-ins), rebuilt from enrollment's feed.
"""
