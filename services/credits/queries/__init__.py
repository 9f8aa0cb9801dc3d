"""Reads of the credits tables that routes, handlers and the intake projection share: the policy
versions along a school's way up the org tree, a teacher's ledger, certificates, and the
per-school compliance counts."""
