//! Every authenticated operation of the API as data: who may do it, the
//! name its refusals and audit entries carry, its route and what it does.
//! Handlers ask an [`Operation`] for these instead of writing them down; the
//! router, the role tests and the check of docs/api.md iterate
//! [`Operation::ALL`].

use axum::http::Method;
use axum::routing::MethodFilter;

use crate::domain::Role;

const ADMIN: &[Role] = &[Role::Admin];
const DESK: &[Role] = &[Role::Admin, Role::Desk];
const DESK_OR_INSPECTOR: &[Role] = &[Role::Admin, Role::Desk, Role::Inspector];
const ADMIN_OR_INSPECTOR: &[Role] = &[Role::Admin, Role::Inspector];
/// The readers' side: desk, admin and the stations at their own readers.
const AT_READERS: &[Role] = &[Role::Admin, Role::Desk, Role::Station];

/// Declares the enum, [`Operation::ALL`] and the table behind the accessors
/// from one list, so an operation cannot exist without its roles and route.
macro_rules! operations {
    ($(
        $(#[$meta:meta])*
        $op:ident: $method:ident $path:literal, $roles:expr, $name:literal, $audit:expr, $about:literal;
    )+) => {
        /// An operation a caller may be allowed to do (docs/api.md, "Routes").
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Operation {
            $($(#[$meta])* $op,)+
        }

        impl Operation {
            /// Every operation, in the order of docs/api.md.
            pub const ALL: &'static [Operation] = &[$(Operation::$op,)+];

            fn spec(self) -> Spec {
                match self {
                    $(Operation::$op => Spec {
                        method: Method::$method,
                        filter: MethodFilter::$method,
                        path: $path,
                        roles: $roles,
                        name: $name,
                        audit: $audit,
                        about: $about,
                    },)+
                }
            }
        }
    };
}

struct Spec {
    method: Method,
    filter: MethodFilter,
    path: &'static str,
    roles: &'static [Role],
    name: &'static str,
    audit: Option<&'static str>,
    about: &'static str,
}

operations! {
    Verify: POST "/v1/verify", &[Role::Admin, Role::Gateway], "verify", None,
        "checks a login's PIN and one-time code";
    ValidateCheck: POST "/validate/check", &[Role::Admin, Role::Gateway], "verify", None,
        "checks a user's PIN and code, answered as privacyIDEA does";
    CreateApiKey: POST "/v1/apikeys", ADMIN, "manage API keys", Some("apikey.create"),
        "creates an API key, shown once";
    ListApiKeys: GET "/v1/apikeys", ADMIN, "manage API keys", None,
        "lists the API keys";
    RevokeApiKey: DELETE "/v1/apikeys/{id}", ADMIN, "manage API keys", Some("apikey.revoke"),
        "revokes an API key at once";
    AddDistrict: POST "/v1/districts", ADMIN, "add a district", Some("district.add"),
        "adds a district and its inspector";
    ListDistricts: GET "/v1/districts", DESK_OR_INSPECTOR, "list districts", None,
        "lists the districts";
    AddSchool: POST "/v1/schools", ADMIN, "add a school", Some("school.add"),
        "adds a school to a district";
    ListSchools: GET "/v1/schools", DESK_OR_INSPECTOR, "list schools", None,
        "lists the schools, of one district or all";
    AddPerson: POST "/v1/people", DESK, "add a person", Some("person.add"),
        "adds a person";
    PersonLeaves: POST "/v1/people/{id}/leave", ADMIN, "record a departure",
        Some("person.leave"),
        "records that a person left: their staff API keys stop working";
    ListPeople: GET "/v1/people", DESK_OR_INSPECTOR, "list people", None,
        "lists the people, of one district or all";
    ShowPerson: GET "/v1/people/{id}", DESK_OR_INSPECTOR, "read a person", None,
        "shows a person with their rights and live token";
    PersonRights: GET "/v1/people/{id}/rights", DESK_OR_INSPECTOR, "read rights", None,
        "lists a person's rights";
    GrantAppointment: POST "/v1/rights/appointments", ADMIN, "record an appointment",
        Some("right.grant.appointment"),
        "records an appointment at a school";
    GrantDelegation: POST "/v1/rights/delegations", ADMIN_OR_INSPECTOR, "grant a delegation",
        Some("right.grant.delegation"),
        "grants a delegation in the district inspector's name";
    EndRight: POST "/v1/rights/{id}/end", ADMIN_OR_INSPECTOR, "end a delegation",
        Some("right.end"),
        "ends a delegation now";
    RequestKey: POST "/v1/key-requests", &[Role::Inspector], "request a key",
        Some("key_request.open"),
        "asks the desk for a key for a holder";
    ListKeyRequests: GET "/v1/key-requests", DESK_OR_INSPECTOR, "list key requests", None,
        "lists the open key requests (an inspector: their own, with their status)";
    FileReplacement: POST "/v1/replacement-requests", DESK, "record a help request",
        Some("replacement.request"),
        "records a holder's help mail asking for a replacement";
    ListReplacements: GET "/v1/replacement-requests", DESK, "list help requests", None,
        "lists the help requests and what became of them";
    PrepareReplacement: POST "/v1/replacement-requests/{id}/prepare", DESK,
        "prepare a replacement", None,
        "prepares the token at a reader for a replacement request";
    QualifyReplacement: POST "/v1/replacement-requests/{id}/qualify", DESK,
        "qualify a help request", None,
        "gives a help request read from mail its kind";
    GrantEmergency: POST "/v1/replacement-requests/{id}/emergency", DESK_OR_INSPECTOR,
        "grant emergency access", None,
        "gives the holder one-time codes or a software token while their key is replaced";
    ListEmergency: GET "/v1/emergency-access", DESK_OR_INSPECTOR, "list emergency access", None,
        "lists emergency accesses (an inspector: their districts')";
    RevokeEmergency: POST "/v1/emergency-access/{serial}/revoke", DESK_OR_INSPECTOR,
        "revoke emergency access", None,
        "ends an emergency access before its time";
    ScheduledNotices: POST "/v1/mail/scheduled-notices", DESK, "queue the calendar's mails",
        None,
        "queues the invitations, return reminders and overdue notices due today, once each";
    IngestMail: POST "/v1/mail/messages", DESK, "record a help request", None,
        "reads one message of the help desk's mailbox into a help request or a refusal";
    ListDevices: GET "/v1/devices", AT_READERS, "see devices", None,
        "lists the tokens present at readers";
    ReadDeviceCode: POST "/v1/devices/{reader}/code", DESK, "read a code from a device", None,
        "reads a code from the token at a reader";
    TouchDevice: POST "/v1/devices/{reader}/touch", DESK, "touch a simulated key", None,
        "touches the simulated touch key at a reader";
    ListTokens: GET "/v1/tokens", DESK_OR_INSPECTOR, "list tokens", None,
        "lists tokens by state and district";
    ShowToken: GET "/v1/tokens/{serial}", DESK_OR_INSPECTOR, "read a token", None,
        "shows a token and its credential";
    AddToken: POST "/v1/tokens", DESK, "register a token", Some("token.add"),
        "registers a stock token by hand";
    ImportTokens: POST "/v1/tokens/import", DESK, "import tokens", Some("token.import"),
        "imports factory-seeded tokens from a vendor's PSKC file";
    PrepareToken: POST "/v1/tokens/{serial}/prepare", DESK, "prepare a token", None,
        "writes and proves a credential for a holder";
    BindToken: POST "/v1/tokens/{serial}/bind", DESK, "bind a seeded token", None,
        "binds an imported seeded token to a holder, proved by its code";
    Handover: POST "/v1/tokens/{serial}/handover", DESK_OR_INSPECTOR, "hand a key over",
        Some("token.handover"),
        "hands a key over with proof of possession and a receipt";
    Activate: POST "/v1/tokens/{serial}/activate", &[Role::Station], "activate a key", None,
        "activates a key with the holder's PIN at a station";
    ReturnToken: POST "/v1/tokens/{serial}/return", DESK_OR_INSPECTOR, "take a key back",
        Some("token.return"),
        "takes a key back with proof of possession and a receipt";
    Receive: POST "/v1/tokens/{serial}/receive", DESK, "receive a key", Some("receive a key"),
        "records a returned key as received at the IT centre";
    Wipe: POST "/v1/tokens/{serial}/wipe", DESK, "wipe a key", None,
        "wipes the token at a reader";
    UnblockPin: POST "/v1/tokens/{serial}/unblock-pin", DESK, "unblock a device PIN", None,
        "restores a blocked device PIN's retry counter";
    Restock: POST "/v1/tokens/{serial}/restock", DESK, "restock a key", Some("restock a key"),
        "puts a wiped key back in stock";
    Revoke: POST "/v1/tokens/{serial}/revoke", DESK_OR_INSPECTOR, "revoke a key",
        Some("token.revoke"),
        "revokes a key";
    Unlock: POST "/v1/tokens/{serial}/unlock", DESK, "unlock a key", Some("unlock a key"),
        "unlocks a credential locked by failures";
    Resync: POST "/v1/tokens/{serial}/resync", DESK, "resynchronise a key",
        Some("credential.resync"),
        "resynchronises a credential from two consecutive codes";
    ResetPin: POST "/v1/tokens/{serial}/reset-pin", DESK_OR_INSPECTOR, "reset a PIN",
        Some("credential.pin_reset"),
        "deletes the holder's PIN: they choose a new one at their next gateway login";
    ApprovePinReset: POST "/v1/tokens/{serial}/pin-reset-approval", &[Role::Inspector],
        "approve a PIN reset", None,
        "lets the holder reset a forgotten PIN at a station, once, before it expires";
    ForgottenPin: POST "/v1/tokens/{serial}/forgotten-pin", &[Role::Station],
        "reset a forgotten PIN", None,
        "the holder sets a new PIN with the key in hand and the inspector's approval";
    TokenReceipts: GET "/v1/tokens/{serial}/receipts", DESK_OR_INSPECTOR, "read receipts", None,
        "lists a token's receipts";
    ShowReceipt: GET "/v1/receipts/{id}", DESK_OR_INSPECTOR, "read a receipt", None,
        "shows a receipt as JSON, text or HTML";
    ReportOverdue: GET "/v1/reports/overdue", DESK_OR_INSPECTOR, "read reports", None,
        "lists keys not returned in time, by district";
    ReportInTransit: GET "/v1/reports/in-transit", DESK_OR_INSPECTOR, "read reports", None,
        "lists keys returned but not yet received, by district";
    ReportTokenStates: GET "/v1/reports/token-states", DESK_OR_INSPECTOR, "read reports", None,
        "counts keys by state and district";
    SearchAudit: GET "/v1/audit", ADMIN, "read the audit", None,
        "searches the audit by action, subject, actor and days";
    VerifyAudit: GET "/v1/audit/verify", ADMIN, "verify the audit", None,
        "checks the audit chain";
    DirectorySync: POST "/v1/directory/sync", ADMIN, "sync the directory", None,
        "reads the academic directory and applies its changes, or shows them";
    DirectoryStatus: GET "/v1/directory/status", ADMIN, "read the directory runs", None,
        "lists the last directory sync runs";
    FollowEvents: GET "/v1/events", AT_READERS, "follow events", None,
        "streams device and token events";
    ReportReturnWeeks: GET "/v1/reports/return-weeks", DESK_OR_INSPECTOR, "read reports", None,
        "counts returns due, overdue and made, week by week around the deadline";
    ReportVerifyOutcomes: GET "/v1/reports/verify-outcomes", DESK, "read reports", None,
        "counts verify outcomes and locks per day, from the audit";
    ListAppointments: GET "/v1/rights/appointments", ADMIN, "list appointments", None,
        "lists every appointment, filtered by school, person, in force or ended";
}

impl Operation {
    /// The roles allowed to do it; every other role is refused 403.
    pub fn roles(self) -> &'static [Role] {
        self.spec().roles
    }

    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// What refusals say and audit: "a desk key may not <name>".
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The action its store write is audited under: the dotted name where it
    /// has one, else [`Operation::name`]. Operations whose writes happen in
    /// the device layer or the verify service never write through it.
    pub fn audit_action(self) -> &'static str {
        let spec = self.spec();
        spec.audit.unwrap_or(spec.name)
    }

    pub fn method(self) -> Method {
        self.spec().method
    }

    /// The router's filter for [`Operation::method`].
    pub fn method_filter(self) -> MethodFilter {
        self.spec().filter
    }

    /// The route's path as the router matches it (`{serial}`, `{id}`, ...).
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// One line for listings and docs.
    pub fn description(self) -> &'static str {
        self.spec().about
    }
}

/// The routes outside [`Operation::ALL`]: unauthenticated, answered to anyone.
pub const UNAUTHENTICATED: &[(Method, &str)] =
    &[(Method::GET, "/healthz"), (Method::GET, "/metrics")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_one_operation() {
        let mut seen = std::collections::HashSet::new();
        for op in Operation::ALL {
            assert!(seen.insert((op.method(), op.path())), "{op:?} twice");
            assert!(!op.roles().is_empty(), "{op:?} allows nobody");
            // privacyIDEA's path is kept for its plugins.
            assert!(
                op.path().starts_with("/v1/") || *op == Operation::ValidateCheck,
                "{op:?}"
            );
        }
    }

    #[test]
    fn the_gateway_may_only_verify_by_either_call() {
        let gateway: Vec<_> = Operation::ALL
            .iter()
            .filter(|op| op.allows(Role::Gateway))
            .collect();
        assert_eq!(gateway, [&Operation::Verify, &Operation::ValidateCheck]);
    }
}
