-- Read models of the funding service's own events, written only by its inline projector
-- (services/funding/projector/ledger.py) in the command's transaction, and rebuildable from
-- its event store (ledger_projection). Money is integer fen (bigint) throughout.

-- Policy versions per jurisdiction; shares are exact decimals, never float.
CREATE TABLE IF NOT EXISTS funding_policies (
    jurisdiction_code           text    NOT NULL,
    effective_from              date    NOT NULL,
    school_public_funds_share   numeric,
    school_share_basis          text    NOT NULL,
    district_payroll_share_min  numeric,
    district_payroll_share_max  numeric,
    pass_down_min               numeric,
    sources                     jsonb   NOT NULL,
    version                     integer NOT NULL,
    PRIMARY KEY (jurisdiction_code, effective_from)
);

-- One account per org and year: the declared budget and the running totals of the ledger.
-- The balance guard: what an org has for training (training budget + allocations received
-- − allocated onward − spent) never goes negative. Commands move the totals with guarded
-- UPDATEs (a row lock, re-checked after a concurrent writer commits); the CHECK backs them up.
CREATE TABLE IF NOT EXISTS funding_accounts (
    org_code                 text    NOT NULL,
    year                     integer NOT NULL,
    budget_version           integer NOT NULL DEFAULT 0,   -- 0: no budget declared yet
    public_funds_budget_fen  bigint  NOT NULL DEFAULT 0 CHECK (public_funds_budget_fen >= 0),
    payroll_fen              bigint  NOT NULL DEFAULT 0 CHECK (payroll_fen >= 0),
    training_budget_fen      bigint  NOT NULL DEFAULT 0 CHECK (training_budget_fen >= 0),
    received_fen             bigint  NOT NULL DEFAULT 0 CHECK (received_fen >= 0),
    allocated_fen            bigint  NOT NULL DEFAULT 0 CHECK (allocated_fen >= 0),
    spent_fen                bigint  NOT NULL DEFAULT 0 CHECK (spent_fen >= 0),
    PRIMARY KEY (org_code, year),
    CONSTRAINT funding_accounts_balance
        CHECK (training_budget_fen::numeric + received_fen - allocated_fen - spent_fen >= 0)
);

-- The ledger's entries, append-only: a reversal is a new row with the negated amount.
-- `ledger` says which total an entry moves: 'allocation' (allocated/received) or 'spending'.
CREATE TABLE IF NOT EXISTS funding_entries (
    entry_id     uuid PRIMARY KEY,
    kind         text    NOT NULL CHECK (kind IN ('allocation', 'disbursement', 'settlement', 'reversal')),
    ledger       text    NOT NULL CHECK (ledger IN ('allocation', 'spending')),
    org_code     text    NOT NULL,        -- who pays (the allocating org for an allocation)
    to_code      text,                    -- the receiving org of an allocation
    year         integer NOT NULL,
    project_id   uuid,
    host_id      uuid,
    amount_fen   bigint  NOT NULL,
    purpose      text    NOT NULL,
    reverses     uuid UNIQUE,             -- a reversal's original entry: reversed at most once
    detail       jsonb   NOT NULL DEFAULT '{}'::jsonb,
    position     bigint  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX IF NOT EXISTS funding_entries_org_year ON funding_entries (org_code, year, position);
CREATE INDEX IF NOT EXISTS funding_entries_project ON funding_entries (project_id) WHERE project_id IS NOT NULL;
