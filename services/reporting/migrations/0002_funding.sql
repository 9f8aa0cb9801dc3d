-- Reporting's copy of the funding stream: policy versions and, per org and year, the declared
-- budget and the money passed down and spent (fen). Written only by FundingProjection.

CREATE TABLE IF NOT EXISTS fund_policies (
    jurisdiction_code          text    NOT NULL,
    effective_from             date    NOT NULL,
    school_public_funds_share  numeric,
    district_payroll_share_min numeric,
    district_payroll_share_max numeric,
    pass_down_min              numeric,
    PRIMARY KEY (jurisdiction_code, effective_from)
);

CREATE TABLE IF NOT EXISTS fund_accounts (
    org_code                 text    NOT NULL,
    year                     integer NOT NULL,
    declared                 boolean NOT NULL DEFAULT false,
    public_funds_budget_fen  bigint  NOT NULL DEFAULT 0,
    payroll_fen              bigint  NOT NULL DEFAULT 0,
    training_budget_fen      bigint  NOT NULL DEFAULT 0,
    allocated_fen            bigint  NOT NULL DEFAULT 0,  -- passed down to other orgs, net of reversals
    spent_fen                bigint  NOT NULL DEFAULT 0,  -- disbursed and settled, net of reversals
    PRIMARY KEY (org_code, year)
);
