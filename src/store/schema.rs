//! Versioned schema. Migrations run at open, each in its own write
//! transaction; a database written by a newer keyward is refused.

use rusqlite::Connection;

use super::{in_write_txn, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    V1,
    V2,
    V3,
    V_RIGHTS_AND_STAFF,
    V_SEEDED_TOKENS,
    V_CREDENTIAL_EXPIRY,
    V_ROW_MACS,
    // Released stores stop at V_ROW_MACS or earlier: what follows only ever
    // goes at the end, so an existing database runs exactly the new steps.
    V_MAIL,
    V_CONSOLE_SESSIONS,
    V_PHANTOM_COUNTERS,
    V_DIRECTORY,
    V_EMERGENCY,
    V_PIN_RESET_APPROVALS,
    V_LOOKUP_INDEXES,
    V_CONSOLE_READS,
    V_MORE_ROW_MACS,
    V_APPOINTMENTS_BY_SCHOOL,
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE people (
    id        TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    mail      TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE districts (
    code      TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    inspector TEXT REFERENCES people(id)
) STRICT;

CREATE TABLE schools (
    uai      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    district TEXT NOT NULL REFERENCES districts(code)
) STRICT;

CREATE TABLE rights (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    person     TEXT NOT NULL REFERENCES people(id),
    school     TEXT NOT NULL REFERENCES schools(uai),
    origin     TEXT NOT NULL CHECK (origin IN ('appointment', 'delegation')),
    from_date  TEXT NOT NULL,
    until_date TEXT,
    ended_at   INTEGER,
    granted_by TEXT NOT NULL,
    granted_at INTEGER NOT NULL
) STRICT;
CREATE INDEX rights_by_person ON rights(person);

CREATE TABLE tokens (
    serial        TEXT PRIMARY KEY,
    profile       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN
                    ('stock','prepared','handed_over','active','returned','wiped','revoked')),
    revoke_reason TEXT CHECK (revoke_reason IN ('lost','stolen','broken','faulty')),
    holder        TEXT REFERENCES people(id),
    state_since   INTEGER NOT NULL,
    received_at   INTEGER,
    CHECK (state NOT IN ('prepared','handed_over','active') OR holder IS NOT NULL)
) STRICT;
-- At most one live token per holder (docs/lifecycle.md).
CREATE UNIQUE INDEX one_live_token_per_holder ON tokens(holder)
    WHERE state IN ('prepared','handed_over','active');

CREATE TABLE credentials (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token        TEXT NOT NULL REFERENCES tokens(serial),
    holder       TEXT NOT NULL REFERENCES people(id),
    kind         TEXT NOT NULL CHECK (kind IN ('hotp','totp')),
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
    period       INTEGER NOT NULL,
    floor        INTEGER,
    drift        INTEGER NOT NULL DEFAULT 0,
    fails        INTEGER NOT NULL DEFAULT 0,
    locked       INTEGER NOT NULL DEFAULT 0,
    retry_at     INTEGER NOT NULL DEFAULT 0,
    pin_verifier BLOB,
    live         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
CREATE UNIQUE INDEX one_live_credential_per_holder ON credentials(holder) WHERE live = 1;
CREATE INDEX credentials_by_token ON credentials(token);

-- Sealed secrets live apart so that destroying one is a DELETE of its row.
CREATE TABLE sealed_secrets (
    credential INTEGER PRIMARY KEY REFERENCES credentials(id),
    sealed     BLOB NOT NULL
) STRICT;

CREATE TABLE receipts (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('handover','return')),
    token        TEXT NOT NULL REFERENCES tokens(serial),
    holder       TEXT NOT NULL REFERENCES people(id),
    district     TEXT NOT NULL,
    at           INTEGER NOT NULL,
    canonical    TEXT NOT NULL,
    signature    BLOB NOT NULL
) STRICT;
CREATE INDEX receipts_by_token ON receipts(token);

CREATE TABLE key_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    holder       TEXT NOT NULL REFERENCES people(id),
    district     TEXT NOT NULL REFERENCES districts(code),
    requested_by TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    token        TEXT REFERENCES tokens(serial),
    fulfilled_at INTEGER
) STRICT;

CREATE TABLE replacement_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    holder       TEXT NOT NULL REFERENCES people(id),
    old_token    TEXT NOT NULL REFERENCES tokens(serial),
    reason       TEXT NOT NULL,
    sender       TEXT NOT NULL,
    cc           TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    new_token    TEXT REFERENCES tokens(serial),
    fulfilled_at INTEGER
) STRICT;

CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL,
    mac     BLOB NOT NULL
) STRICT;
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"#;

/// API keys (only their SHA-256 is kept), pending device writes (recorded
/// before the token is written, removed in the transaction that commits the
/// credential or by recovery: docs/devices.md), and the desk's sealed
/// device-PIN resetting codes.
const V2: &str = r#"
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin','desk','inspector','station','gateway')),
    district   TEXT REFERENCES districts(code),
    readers    TEXT NOT NULL DEFAULT '[]',
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CHECK (role <> 'inspector' OR district IS NOT NULL)
) STRICT;

CREATE TABLE pending_writes (
    serial        TEXT PRIMARY KEY REFERENCES tokens(serial),
    holder        TEXT NOT NULL REFERENCES people(id),
    credential_id BLOB NOT NULL,
    reader        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE device_puks (
    credential INTEGER PRIMARY KEY REFERENCES credentials(id),
    sealed     BLOB NOT NULL
) STRICT;
"#;

/// The random access codes that lock YubiKey OTP slots, sealed like
/// secrets (bound to the token serial and slot). `pending` is the code of a
/// prepare not yet committed (recorded before the slot is written, so
/// recovery can try it); `committed` is the code the slot holds.
const V3: &str = r#"
CREATE TABLE slot_access_codes (
    serial     TEXT NOT NULL REFERENCES tokens(serial),
    slot       INTEGER NOT NULL CHECK (slot IN (1, 2)),
    status     TEXT NOT NULL CHECK (status IN ('pending', 'committed')),
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (serial, slot, status)
) STRICT;
"#;

/// Rules on rights and staff (docs/lifecycle.md): staff API keys belong to a
/// person (who may leave; existing inspector keys get their district's
/// inspector, existing admin and desk keys nobody, so they must be created
/// again for a person), a token serves one right (its district is that
/// right's school's: the existing bound tokens get their holder's latest
/// right), an appointment ended by the administration keeps its reason, and a
/// credential remembers it was revoked (its holder's next key then needs a
/// request).
const V_RIGHTS_AND_STAFF: &str = r#"
ALTER TABLE api_keys ADD COLUMN person TEXT REFERENCES people(id);
ALTER TABLE people ADD COLUMN left_at INTEGER;
ALTER TABLE tokens ADD COLUMN right_id INTEGER REFERENCES rights(id);
ALTER TABLE rights ADD COLUMN end_reason TEXT CHECK (end_reason IN
    ('retraite','mutation','changement_de_corps','fin_de_fonction','autre'));
ALTER TABLE credentials ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;
UPDATE api_keys SET person = (SELECT d.inspector FROM districts d WHERE d.code = api_keys.district)
    WHERE role = 'inspector';
UPDATE tokens SET right_id = (SELECT r.id FROM rights r WHERE r.person = tokens.holder
                              ORDER BY r.from_date DESC, r.id DESC LIMIT 1)
    WHERE holder IS NOT NULL;
UPDATE credentials SET revoked = 1 WHERE live = 0 AND EXISTS
    (SELECT 1 FROM tokens t WHERE t.serial = credentials.token AND t.state = 'revoked');
"#;

/// Secrets of factory-seeded tokens imported from a vendor's PSKC file,
/// waiting to be bound to a holder (`docs/pskc.md`). Sealed like a
/// credential's secret, bound to the negated row id and the serial; the row
/// is deleted when the secret becomes a credential or the token is wiped.
const V_SEEDED_TOKENS: &str = r#"
CREATE TABLE imported_secrets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    serial       TEXT NOT NULL UNIQUE REFERENCES tokens(serial),
    key_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('hotp', 'totp')),
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL,
    period       INTEGER NOT NULL,
    counter      INTEGER NOT NULL,
    not_before   INTEGER,
    not_after    INTEGER,
    manufacturer TEXT,
    model        TEXT,
    pin_policy   TEXT,
    sealed       BLOB NOT NULL,
    imported_at  INTEGER NOT NULL
) STRICT;
"#;

/// Each state row that decides something carries a MAC of its content
/// (`store::row_mac`, docs/security.md). Rows already there get theirs at
/// the first open after this migration, computed with the master key.
const V_ROW_MACS: &str = r#"
ALTER TABLE people      ADD COLUMN row_mac BLOB;
ALTER TABLE rights      ADD COLUMN row_mac BLOB;
ALTER TABLE tokens      ADD COLUMN row_mac BLOB;
ALTER TABLE credentials ADD COLUMN row_mac BLOB;
ALTER TABLE api_keys    ADD COLUMN row_mac BLOB;
"#;

/// A credential may expire (a factory-seeded key's vendor expiry date,
/// `docs/pskc.md`): verify treats it as absent from that instant.
const V_CREDENTIAL_EXPIRY: &str = r#"
ALTER TABLE credentials ADD COLUMN expires_at INTEGER;
"#;

/// Mail (case 3, docs/mail.md): each message read from the help desk's
/// mailbox once, by Message-ID, with what became of it; the outbox of the
/// mails keyward sends, kept after sending (`sent_at`) so nothing is sent
/// twice, retried with a growing delay while the server is down. `dedupe`
/// names a notice that must go out once (a key ready, a reminder).
const V_MAIL: &str = r#"
CREATE TABLE mail_messages (
    message_id  TEXT PRIMARY KEY,
    sender      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    request     INTEGER REFERENCES replacement_requests(id)
) STRICT;

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL UNIQUE,
    template    TEXT NOT NULL,
    recipients  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    dedupe      TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL,
    sent_at     INTEGER,
    last_error  TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (next_try_at) WHERE sent_at IS NULL;
"#;

/// The web console's sessions (`console::session`) and the one-time
/// bootstrap link of the first admin: only SHA-256 of their random ids is
/// kept. A session acts with the rights of the staff or station key it was
/// opened for, read again (row MAC checked) at every request.
const V_CONSOLE_SESSIONS: &str = r#"
CREATE TABLE console_sessions (
    id_hash    BLOB PRIMARY KEY,
    api_key    INTEGER NOT NULL REFERENCES api_keys(id),
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    ended_at   INTEGER
) STRICT;
CREATE TABLE console_bootstrap (
    hash       BLOB PRIMARY KEY,
    api_key    INTEGER NOT NULL REFERENCES api_keys(id),
    created_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
"#;
/// Failure counters of logins that do not exist, in at most 2^20 slots
/// keyed by a MAC of the login (`store::verify::phantom`).
pub(crate) const PHANTOM_TABLE: &str = r#"
CREATE TABLE phantom_counters (
    slot     INTEGER PRIMARY KEY,
    fails    INTEGER NOT NULL,
    locked   INTEGER NOT NULL,
    retry_at INTEGER NOT NULL,
    mac      BLOB NOT NULL
) STRICT;
"#;
const V_PHANTOM_COUNTERS: &str = PHANTOM_TABLE;
/// Lookups that read a whole table without an index: a school's
/// appointments (granting a right) and a holder's latest credential (any
/// holder's, live or not: preparing a token). `bench setup` of 100,000
/// holders was quadratic.
const V_LOOKUP_INDEXES: &str = "
CREATE INDEX rights_by_school ON rights(school);
CREATE INDEX credentials_by_holder ON credentials(holder, id);
";
/// The academic directory (`docs/directory.md`): a right it no longer
/// publishes ends for the reason "directory" (the CHECK list widened in
/// place, which changes no stored row), and each sync run is kept.
const V_DIRECTORY: &str = r#"
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''autre'')', '''autre'',''directory'')')
    WHERE type = 'table' AND name = 'rights';
PRAGMA writable_schema = RESET;
CREATE TABLE directory_runs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    source  TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    report  TEXT NOT NULL
) STRICT;
"#;

/// Emergency access while a key is replaced (docs/emergency.md): a
/// temporary credential on a token row of profile `emergency`, which may be
/// active beside the replacement key being prepared; who granted it, against
/// which request, until when, and how it ended.
const V_EMERGENCY: &str = r#"
DROP INDEX one_live_token_per_holder;
CREATE UNIQUE INDEX one_live_token_per_holder ON tokens(holder)
    WHERE state IN ('prepared','handed_over','active') AND profile <> 'emergency';
CREATE UNIQUE INDEX one_emergency_per_holder ON tokens(holder)
    WHERE state = 'active' AND profile = 'emergency';

CREATE TABLE emergency_grants (
    token       TEXT PRIMARY KEY REFERENCES tokens(serial),
    holder      TEXT NOT NULL REFERENCES people(id),
    request     INTEGER NOT NULL REFERENCES replacement_requests(id),
    form        TEXT NOT NULL CHECK (form IN ('sheet','app')),
    granted_by  TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    end_reason  TEXT,
    slip        TEXT NOT NULL,
    signature   BLOB NOT NULL
) STRICT;
"#;

/// Forgotten PIN (docs/forgotten-pin.md): the district inspector's approval
/// that lets the holder choose a new PIN at a station, once, before it
/// expires; the signed slip of the reset is kept with it.
const V_PIN_RESET_APPROVALS: &str = r#"
CREATE TABLE pin_reset_approvals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token       TEXT NOT NULL REFERENCES tokens(serial),
    holder      TEXT NOT NULL REFERENCES people(id),
    district    TEXT NOT NULL,
    inspector   TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    slip        TEXT,
    signature   BLOB
) STRICT;
"#;

/// Indexes for the paged, filtered and counted reads of long lists
/// (`src/store/ops/listing.rs`): tokens by state in serial order, by the
/// right they serve, and the audit by time. (Rights by school, for a
/// district's people, come with main's `V_LOOKUP_INDEXES`.)
const V_CONSOLE_READS: &str = r#"
CREATE INDEX tokens_by_state ON tokens(state, serial);
CREATE INDEX tokens_by_right ON tokens(right_id);
CREATE INDEX audit_by_time ON audit(at);
"#;

/// Row MACs (`store::row_mac`) for the other rows that decide something:
/// a district's inspector and a school's district (an inspector's scope),
/// console sessions and the bootstrap link (who is signed in), emergency
/// grants and PIN reset approvals. Rows already there get theirs at the
/// next open.
const V_MORE_ROW_MACS: &str = r#"
ALTER TABLE districts           ADD COLUMN row_mac BLOB;
ALTER TABLE schools             ADD COLUMN row_mac BLOB;
ALTER TABLE console_sessions    ADD COLUMN row_mac BLOB;
ALTER TABLE console_bootstrap   ADD COLUMN row_mac BLOB;
ALTER TABLE emergency_grants    ADD COLUMN row_mac BLOB;
ALTER TABLE pin_reset_approvals ADD COLUMN row_mac BLOB;
"#;

/// A school's appointments (granting any right reads them) by an index of
/// their own: `rights_by_school` found every right at the school and
/// filtered out the delegations row by row, so granting one more delegation
/// cost as many reads as the school had rights (`bench setup` of 100,000
/// holders, all deputies of one school: 10 ms a holder at 43,000 and
/// growing). The new index covers the lookup and serves every read by
/// school alone, so the old one goes.
const V_APPOINTMENTS_BY_SCHOOL: &str = r#"
CREATE INDEX rights_by_school_origin ON rights(school, origin, person);
DROP INDEX rights_by_school;
"#;

/// Applies the missing migrations, or refuses a newer database.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    let start = usize::try_from(found).map_err(|_| StoreError::Corrupt("schema version"))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        in_write_txn(conn, |tx| {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            Ok::<_, StoreError>(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 3 database with a bound key, a revoked one and an
    /// inspector key, migrated: the keys get the right they serve, the
    /// revoked credential is marked, the inspector key gets its person.
    #[test]
    fn rights_and_staff_backfill_what_was_there() -> Result<(), rusqlite::Error> {
        let conn = Connection::open_in_memory()?;
        for sql in [V1, V2, V3] {
            conn.execute_batch(sql)?;
        }
        conn.execute_batch(
            "INSERT INTO people VALUES ('pm','P','pm@x.fr'), ('ad','A','ad@x.fr'), ('bl','B','bl@x.fr');
             INSERT INTO districts VALUES ('E','Est','pm');
             INSERT INTO schools VALUES ('0751710B','S','E');
             INSERT INTO rights (person, school, origin, from_date, granted_by, granted_at)
                 VALUES ('ad','0751710B','appointment','2025-09-01','x',0),
                        ('ad','0751710B','delegation','2026-01-01','x',0),
                        ('bl','0751710B','delegation','2026-01-01','x',0);
             INSERT INTO tokens (serial, profile, state, holder, state_since)
                 VALUES ('T1','v','active','ad',0), ('T2','v','revoked','bl',0), ('T3','v','stock',NULL,0);
             INSERT INTO credentials (token, holder, kind, algorithm, digits, period, live, created_at)
                 VALUES ('T1','ad','hotp','SHA1',6,0,1,0), ('T2','bl','hotp','SHA1',6,0,0,0);
             INSERT INTO api_keys (name, role, district, hash, created_at)
                 VALUES ('i','inspector','E',x'01',0), ('d','desk',NULL,x'02',0);",
        )?;
        conn.execute_batch(V_RIGHTS_AND_STAFF)?;
        let column = |sql: &str| -> Result<Vec<Option<String>>, rusqlite::Error> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, Option<rusqlite::types::Value>>(0))?;
            rows.map(|v| v.map(|v| v.map(|v| format!("{v:?}"))))
                .collect()
        };
        assert_eq!(
            column("SELECT right_id FROM tokens ORDER BY serial")?,
            [Some("Integer(2)".into()), Some("Integer(3)".into()), None]
        );
        assert_eq!(
            column("SELECT revoked FROM credentials ORDER BY id")?,
            [Some("Integer(0)".into()), Some("Integer(1)".into())]
        );
        assert_eq!(
            column("SELECT person FROM api_keys ORDER BY id")?,
            [Some("Text(\"pm\")".into()), None]
        );
        Ok(())
    }
}
