"""Reporting service (统计报表): the figures every level of the administration is judged on.

Read-only: it records no events. Kernel projections follow the enrollment, credits and funding
streams into its own tables (projector/); the API answers from them as JSON, CSV and XLSX, and
/dashboard draws them.

Figures (domain/rates.py)
- quota 指标名额, nominated 报送 (every place held: a replacement 换人 keeps its place and counts
  once, a withdrawal frees it and counts only as `withdrawn`), checked_in 报到 (checked in,
  completed or failed), completed 结业, failed 不予结业, no_show (recorded no-shows), withdrawn,
  replaced, evaluations and satisfied. Cancelled projects are left out.
- selection rate 选送率 = nominated ÷ quota; check-in rate 报到率 = checked_in ÷ nominated;
  completion rate 结业率 = completed ÷ checked_in; satisfaction rate 满意率 = satisfied ÷ evaluations.
- Rates are decimal strings with 4 places, ROUND_HALF_EVEN, computed with integers. A rate whose
  denominator is 0 is undefined: **null** in JSON, an empty cell in CSV/XLSX, "—" on the
  dashboard; never 0, never NaN. Thresholds compare exact fractions; an undefined rate is never
  below one (so it names no region in a notice).
- Regions roll up by GB/T 2260 subtree (county → city → province), per project, host, level, year.

Host ranking (domain/ranking.py): score = 0.4 × completion rate + 0.4 × satisfaction rate
+ 0.2 × bulletin share (weights are policy data, domain/policy.py); bulletin share = mean over
the host's projects whose deadline has passed of min(on-time issues, issues owed) ÷ issues owed,
where a project of ≤ 10 days owes 2 issues and a longer one 3 (up to 5), on time = within 15 days
of the end (004 §3.3). An undefined term adds 0. Exact ties: completion, satisfaction, bulletin
share, then host_id.

Obligations (domain/obligations.py): bulletins owed and delivered, the 15-day and 30-day
deadlines, and the failed learners' list — enrollment and teacher ids only (events carry no
names; authorised users get names from the enrollment service's roster).

Funding and credit compliance (domain/funding.py, domain/credits.py; GET /v1/reports/funding,
/v1/reports/credits): recomputed from the funding and credits events under those services' own
rules (nearest jurisdiction's policy version in force), so both services show the same verdicts
and counts — end-to-end tests check it against the real services.

Authorization: admins and auditors read their org's subtree; a host reads its own projects;
`service` reads everything; teachers read no reports.

Freshness: GET /v1/reports/lag; POST /v1/admin/rebuild re-applies the owners' events from
position 0 (their /v1/events feeds or JetStream streams).
"""
