# keyward's messages in English. Every id here is also in fr.ftl, with the
# same arguments (a test checks). Ids are grouped by where they show.

## How times and dates are written (jiff strftime patterns): ISO 8601 order,
## readable the world over
format-date-time = %Y-%m-%d %H:%M
format-date = %Y-%m-%d

## Shared pieces
none = (none)
yes = yes
no = no
open-ended = open-ended
error-prefix = keyward: error: { $error }

## Table headers
col-id = ID
col-name = NAME
col-mail = MAIL
col-code = CODE
col-inspector = INSPECTOR
col-uai = UAI
col-district = DISTRICT
col-school = SCHOOL
col-origin = ORIGIN
col-from = FROM
col-until = UNTIL
col-in-force = IN FORCE
col-serial = SERIAL
col-profile = PROFILE
col-state = STATE
col-holder = HOLDER
col-revoked = REVOKED
col-kind = KIND
col-reader = READER
col-role = ROLE
col-readers = READERS
col-created = CREATED
col-due = DUE
col-days-late = DAYS LATE
col-returned = RETURNED
col-days-waiting = DAYS WAITING
col-person = PERSON
col-requested = REQUESTED
col-status = STATUS
col-token = TOKEN
col-reason = REASON
col-old-token = OLD TOKEN
col-received = RECEIVED
col-new-token = NEW TOKEN
col-ended = ENDED
col-end-reason = END REASON
status-open = open
status-fulfilled = fulfilled
end-reason-retraite = retraite
end-reason-mutation = mutation
end-reason-changement_de_corps = changement_de_corps
end-reason-fin_de_fonction = fin_de_fonction
end-reason-autre = autre

## Values shown in tables (the API's words stay in --json). English shows the
## API's own words, which are also what filters such as --state take.
state-stock = stock
state-prepared = prepared
state-handed_over = handed_over
state-active = active
state-returned = returned
state-wiped = wiped
state-revoked = revoked
reason-lost = lost
reason-stolen = stolen
reason-broken = broken
reason-faulty = faulty
origin-appointment = appointment
origin-delegation = delegation
role-admin = admin
role-desk = desk
role-inspector = inspector
role-station = station
role-gateway = gateway
receipt-kind-handover = handover
receipt-kind-return = return

## Fields of `show` commands
field-id = id
field-name = name
field-mail = mail
field-left = left the authority
field-live-token = live token
field-rights = rights:
field-serial = serial
field-profile = profile
field-state = state
field-holder = holder
field-revoked-for = revoked for
field-kind = kind
field-algorithm = algorithm
field-digits = digits
field-period = period
field-locked = locked
field-failures = failures
live-token-value = { $serial } ({ $state })

## people, districts, schools
person-added = person { $id } added
person-left = { $id } recorded as left
district-added = district { $code } added
school-added = school { $uai } added

## rights
appointment-recorded = appointment { $id } recorded
delegation-granted = delegation { $id } granted
right-ended = right { $id } ended

## tokens
token-registered = token { $serial } registered in stock
token-prepared = token { $serial } prepared for { $holder }
token-handed-over = token { $serial } handed over
token-returned = token { $serial } returned, secret destroyed
token-received = token { $serial } received at the IT centre
token-wiped = token { $serial } wiped
token-pin-unblocked = token { $serial }: device PIN unblocked
token-restocked = token { $serial } back in stock
token-unlocked = token { $serial } unlocked
token-resynced = token { $serial } resynchronised
token-revoked = token { $serial } revoked ({ $reason })
with-receipt = { $what }; receipt { $receipt } signed
serial-or-reader = give the token's serial (SERIAL) or the --reader it is at
no-token-at-reader = no token at reader "{ $reader }"; insert it or give its serial
batch-lists-nobody = { $file } lists nobody
batch-insert-for = insert a blank token for { $holder }
batch-not-blank = token { $serial } at { $reader } is { $state }, not blank: take it out
batch-waiting = waiting for a blank token at { $reader } for { $holder }
batch-prepared = prepared { $serial } for { $holder }: take it out, insert the next
batch-not-prepared = { $holder }: not prepared: { $error }
batch-failed = preparing { $serial } for { $holder }
batch-done = batch: { $prepared } prepared, { $failed } not
opening-file = opening { $file }
reading-file = reading { $file }
writing-file = writing { $file }
creating-dir = creating { $dir }
reading-events = reading the event stream
events-closed = the daemon closed the event stream
reading-stdin = reading standard input
stdin-ended = standard input ended before an answer
reading-hidden = reading hidden input

## key requests and replacements
key-request-queued = key request { $id } queued for the desk
replacement-filed = replacement request { $id } filed
replacement-filed-revoked = replacement request { $id } filed; the old key is revoked

## devices
event-inserted = inserted at { $reader }: serial { $serial }, profile { $profile }
event-removed = removed at { $reader }
event-token = token { $serial } is now { $state }

## reports
report-district = { $district }:

## apikeys
apikey-created = API key { $id } ({ $role }) created; it is shown only now:
apikey-revoked = API key { $id } revoked

## audit
audit-ok = audit: ok, { $entries } { $entries ->
    [one] entry
   *[other] entries
  }, head { $head }
audit-broken = audit: BROKEN: { $why }
audit-broken-at = audit: BROKEN at entry { $entry }: { $why }
audit-row-bad = rows: BAD { $row }: changed outside keyward
audit-rows-ok = rows: ok, { $rows } state rows match their MAC
audit-rows-changed = { $count } state rows were changed outside keyward
audit-rows-not-sealed = rows: not checked: keyward was upgraded and has not been started since
audit-checkpoints-ok = checkpoints: ok, { $count } signed checkpoints match, the latest at entry { $latest }
audit-rows-unlisted = rows: and { $count } more rows BAD, not listed
audit-rows-tables = rows by table: { $tables }
audit-rows-table = { $table } { $rows }
audit-rows-table-bad = { $table } { $rows } ({ $bad } bad)
audit-checkpoint-postgres = --checkpoint does not apply to a PostgreSQL store yet (docs/postgres.md): check the chain and the rows without it

## verify
verify-prompt = Passcode (PIN then code):
verify-accept = accept
verify-reject = reject
verify-right = director of { $school } ({ $origin }, { $until })
verify-until = until { $date }
verify-empty = no passcode given: type the PIN followed by the code

## receipts (commands)
receipt-signature-valid = signature: valid (key { $key })

## init
init-done = keyward: initialised { $dir }
init-initialising = initialising { $dir }
init-files = config { $config }, master key { $master }, database { $db } (receipt key sealed inside)
init-radius = RADIUS on udp://127.0.0.1:1812 for a gateway on this machine; shared secret in { $file }
init-keep-key = Keep the key below safe: it is shown only now (use it as KEYWARD_API_KEY).
init-admin-key = admin API key:
init-not-empty = { $dir } already exists and is not empty: refusing to overwrite it

## station
station-take-out = Please take the key out.
station-waiting = Waiting for a key at { $reader }…
station-any-reader = the station's reader
station-key-at = Key { $serial } at { $reader }
station-holder = holder: { $holder }
station-state = state:  { $state }
station-already-active = This key is already active: nothing to do here.
station-not-handed-over = This key has not been handed over yet: the inspector or the desk records the handover first.
station-cannot-activate = This key cannot be activated (state { $state }); ask the IT desk.
station-rules-intro = By activating this key you acknowledge these rules:
station-acknowledge = Type "yes" to acknowledge them:
station-yes = yes
station-must-acknowledge = The key can only be activated once you acknowledge the rules.
station-choose-pin = Choose your personal PIN: 6 to 8 digits, not easy to guess. You will type it before each code.
station-pin = PIN:
station-pin-again = PIN again:
station-pin-refused = PIN refused: { $why }
station-pin-refused-choose = PIN refused: { $why }. Please choose another.
station-pins-differ = The two PINs differ. Please start again.
station-activation-failed = Activation failed: { $error }
station-activating = activating the key
station-active = Your key { $serial } is active.
station-receipt-saved = Handover receipt: { $path }
station-no-receipt = (the daemon returned no receipt id)
station-receipt-bad-signature = the handover receipt's signature does not verify

## Receipts ("bordereaux")
receipt-title-handover = OTP key handover receipt
receipt-title-return = OTP key return receipt
receipt-number = { $title } no. { $number }
receipt-line = { $label }: { $value }
receipt-token = Key (serial number)
receipt-holder = Holder
receipt-counterparty-handover = Handed over by
receipt-counterparty-return = Received by
receipt-district = District
receipt-place = Place
receipt-time = Date and time
receipt-reason = Reason
receipt-rules = The holder acknowledges that:
receipt-signatures = Signatures of the holder and the officer:
receipt-check = Electronically signed block (check with "keyward receipts verify"):

## The rules a holder acknowledges (by rule id)
rule-personal-not-transferable = The key is nominative and personal: it may not be lent or passed on.
rule-kept-while-director = I keep the key while I hold a school director function in the authority.
rule-returned-on-leaving = I return it to my district's inspector as soon as I leave this function.
rule-help-from-personal-address = If it breaks, is lost or stolen, I write to the help desk from my personal authority address, with my inspector in copy.
rule-pin-is-secret = I keep my PIN secret and never write it down with the key.
rule-returned-key-revoked = The returned key is revoked: it no longer gives access to the applications.
rule-forwarded-to-it-centre = The inspector forwards the key to the IT centre as soon as possible.

## Errors the CLI shows
# An API refusal. The server's words are English already: shown as they are
# with the code, without the French reader's gloss ($meaning, unused here).
api-error = { $message } ({ $code })
api-error-field = { $message } ({ $code }, field { $field })
error-bad_request = the request was malformed
error-unauthenticated = the API key is missing, unknown or revoked
error-forbidden = your API key may not do this
error-own_act = nobody acts on their own rights or key: a colleague must do it
error-not_found = not found
error-conflict = refused by a rule
error-device_absent = no token at that reader
error-payload_too_large = the request is too large
error-invalid = invalid input
error-rate_limited = too many failed attempts from here: try again later
error-device_error = the token failed
error-unavailable = keyward is unavailable (shutting down or its store failed)
error-internal = internal error of the daemon (see its log)
detail-invalid_transition = the key's state does not allow this
detail-holder_has_live_token = the person already has a key in service: return or revoke it first
detail-record_tampered = a record this needs was changed outside keyward: nothing is done (run keyward audit verify)
detail-touch_timeout = the key was not touched in time: nothing changed
detail-held_by_another_program = another program holds the token (close it, e.g. scdaemon, and start again)
detail-director_in_place = the school already has an appointed director: end that appointment first (--ends-previous)
detail-already_director = the person already directs this school: a delegation makes no sense
detail-replacement_request_required = a new key after a revocation needs a validated help request or an inspector's key request
detail-no_right = the person has no right in force or to come
detail-possession_check_failed = the key in hand did not give a correct code
detail-open_key_request = the person already has an open key request
detail-request_fulfilled = the request was already fulfilled
detail-duplicate = it already exists
detail-help_mail_refused = the help request mail does not meet the rules
detail-removed = the token was taken out during the operation
detail-read_back_mismatch = what was written could not be read back
detail-wrong_pin = wrong device PIN
detail-pin_blocked = the device PIN is blocked
detail-locked = the token is locked by an access code
detail-status = the token answered with an error
detail-no_card = no token in the reader
detail-unsupported = the token does not support this
detail-unknown_profile = unknown token model
detail-access_code_refused = the token refused the access code
detail-write_not_proved = the write could not be proved
detail-device = the token failed
error-unreachable = cannot reach keyward at { $url }: { $why } (is `keyward serve` running? set KEYWARD_URL or --url)
error-protocol = unexpected answer from the server (HTTP { $status }): { $why }
error-no-api-key = no API key: set KEYWARD_API_KEY or pass --api-key

## keyward reader, otp, sim, serve
unknown = unknown
reader-connecting = connecting to pcscd
reader-added = reader added: { $reader }
reader-removed = reader removed: { $reader }
reader-identified = profile { $profile }, serial { $serial }
reader-not-identified = not identified: { $error }
reader-inserted = inserted: { $reader } (ATR { $atr }; { $who })
reader-token-removed = removed: { $reader }
reader-info-reader = reader: { $value }
reader-info-profile = profile: { $value }
reader-info-serial = serial: { $value }
reader-info-version = OATH version: { $value }
reader-info-device = device id: { $value }
reader-info-credentials = credentials: { $value }
reader-credentials-locked = locked by an access code
reader-credentials-free = { $count } ({ $free } slots free)
otp-one-secret = give exactly one of --secret or --hex-secret
serve-virtual-token = opening the virtual token
serve-touch-key = attaching the simulated touch key
serve-listen = listening on { $address }
sim-serving = keyward sim: serial { $serial } serving vpcd { $vpcd }
error-bad-public-key = the public key must be 32 bytes of Ed25519, in hex or base64
error-wrong-receipt-key = the receipt was signed by key { $found }, not by the given key { $expected }
error-bad-signature = the receipt's signature is invalid: the receipt was altered or forged
pin-length = a PIN has { $min } to { $max } digits
pin-not-digits = a PIN has digits only
pin-too-common = this PIN is too easy to guess (repeated digits, a run or a repeated pattern): choose another

## Touching a key
touch-to-type = Touch the key now: it types its code (nothing is shown).
touch-to-confirm = Touch the key now to confirm (press its button within 15 seconds).
touch-timed-out = The key was not touched in time: nothing changed. Start again and touch it when asked.
touch-nothing-typed = nothing was typed

## Mail (case 3 read from the help desk's mailbox)
reason-to-qualify = to qualify
mail-ingest-filed = message read: help request { $id } filed (reason: { $kind })
mail-ingest-duplicate = message already read: nothing done again
mail-ingest-refused = message refused ({ $why }): it is not a help request
mail-ingest-refused-replied = message refused ({ $why }): the sender was answered with what to do
replacement-qualified = help request { $id } qualified: { $reason }
## The web console (src/console)
init-console-link = Web console, first sign-in of this admin (once, within 7 days): open the daemon's address followed by { $path }
console-skip = Skip to the content
console-nav = Main menu
console-nav-desk = Desk
console-nav-inspector = My district
console-nav-tokens = Keys
console-nav-people = People
console-nav-station = Station
console-role-admin = administrator
console-role-desk = desk
console-role-inspector = inspector
console-role-station = station
console-role-gateway = gateway
console-other-language = Français
console-signout = Sign out
console-done = Done:
console-error = Refused:
console-refusal = { $why }
console-refused-title = Refused
console-refused = This action was refused: the page was out of date or your session has ended. Reload the page, sign in again if asked, and start again.
console-back-home = Back to the console
console-signin-title = Sign in to keyward
console-signin-intro = Sign in with your own key: your login, your PIN, then the code your key shows or types.
console-login = Login
console-pin = PIN
console-code = Code from your key
console-signin = Sign in
console-signin-refused = Sign-in refused: check your login, PIN and code, then try again with a new code.
console-signin-limited = Too many failed attempts from here: wait a little before trying again.
console-signin-not-staff = Your key is valid but gives no access to the console: ask an administrator.
console-station-signin-link = Sign in a handover station
console-bootstrap-title = First sign-in of the administrator
console-bootstrap-intro = This link, printed by keyward init, signs the first administrator in once. Afterwards, sign in with your own key.
console-bootstrap-go = Sign in as the first administrator
console-bootstrap-refused = This link is unknown, already used or expired. Ask for a new one with keyward init --add-admin.
console-desk-title = IT centre desk
console-readers = Readers
console-readers-caption = The readers and the key at each
console-reader = Reader
console-serial = Serial
console-state = State
console-holder = Holder
console-no-reader = No reader is connected.
console-unknown-token = unknown key
console-prepare = Prepare a key for a holder
console-search-holder = Name or login
console-search = Search
console-nobody-found = Nobody matches this search.
console-prepare-at = Holder of key { $serial }
console-prepare-go = Prepare the key
console-prepare-hint = Search the holder by name or login, by their school (UAI or name), or both (at least 2 characters), then choose them.
console-prepared = Key { $serial } is prepared: it can be handed over.
console-inspector-title = Keys of my district
console-inspector-intro = Hand a prepared key over or take a key back: insert it into the reader; reading a code from it proves possession.
console-no-token = No key to hand over or take back.
console-locked = locked
console-place = Place
console-reason = Reason for the return
console-handover-go = Hand the key over
console-return-go = Take the key back
console-tokens-title = Keys
console-any = any
console-export-csv = Export as CSV
console-tokens-found = { $count } key(s)
console-people-title = People
console-name = Name
console-mail = Mail
console-slip-title = Slip
console-slip-handover = Handover receipt
console-slip-return = Return receipt
console-slip-qr = QR code of the signed receipt
console-slip-qr-caption = Signed receipt: check it with keyward receipts verify.
console-slip-export = Signed text of the receipt
console-slip-sign-holder = Holder's signature
console-slip-sign-staff = Staff signature
console-slip-print = Print this slip (A4) with your browser's Print command.
console-station-signin-title = Sign in a handover station
console-station-signin-intro = Enter this station's key once; the station then stays signed in to its readers. Directors never sign in here.
console-station-key = Station key
console-station-refused = This key is not a valid station key.
console-station-title = Handover station
console-station-readers = Readers of this station: { $readers }
console-station-insert = Insert your key into the reader.
console-station-whose = Key of { $holder }
console-station-rules-title = Rules you accept
console-station-rule-personal = The key is personal: nobody else uses it.
console-station-rule-secret = Your PIN stays secret: never write it down next to the key, never give it to anyone.
console-station-rule-lost = A lost or stolen key is reported to your inspector at once.
console-station-rule-return = The key goes back to your inspector when your appointment ends.
console-station-accept = I accept these rules
console-station-pin-policy = Your PIN: 6 to 8 digits, not a repeat (000000, 121212), not a straight run (123456, 987654), not a well-known value. Type it twice.
console-station-pin = New PIN
console-station-pin-again = New PIN again
console-station-activate = Activate my key
console-station-pins-differ = The two PINs differ: type the same PIN twice.
console-station-must-accept = Tick the box to accept the rules first.
console-station-not-ready = This key is not waiting for its PIN: ask your inspector.
console-station-activated = Your key is active. Print the slip and keep it.
console-slip-when = Date and time:
console-nav-glance = At a glance
console-glance-title = At a glance
console-glance-states = Keys by state
console-glance-overdue = Returns overdue, by district
console-glance-in-transit = Returns in transit to the IT centre, by district
console-glance-none = Nothing to show.
console-glance-table = The figures behind the chart
console-nav-delegations = Delegations
console-delegations-title = Delegations
console-delegation-grant = Grant a delegation
console-delegation-intro = A deputy acts for the director of a school of your district, from a day until a day (or until ended).
console-school = School
console-from = First day
console-until = Last day (optional)
console-delegation-grant-go = Grant the delegation
console-delegation-end = End a delegation now
console-right-number = Right number
console-delegation-end-go = End the delegation
console-delegation-granted = Delegation { $id } granted.
console-delegation-ended = Right { $id } ended.
console-key-requests = Key requests
console-help-requests = Help requests (replacements)
console-none = None.
console-district = District
console-status = Status
console-actions = Actions
console-act-receive = Received at the IT centre
console-act-restock = Back in stock
console-act-unlock = Unlock
# Verify writer (issue 11): refusal to start on a nearly full disk.
error-disk-nearly-full = the disk holding { $path } is nearly full ({ $available } MiB left, at least { $needed } MiB needed): verify does not start; free some room first
## HTTP shell: TLS and connection limits (issue 11, 14)
serve-plain-beyond-loopback = refusing to listen on { $address } without TLS: plain HTTP would carry keys and PINs in clear. Add a [tls] table (certificate, key) to the config file, or listen on 127.0.0.1
init-tls = self-signed TLS certificate: { $certificate } (serve speaks HTTPS; browsers will warn until it is replaced by one from your CA)
init-tls-add = self-signed TLS certificate: { $certificate }; add to { $config }: { $table }
## Gateway challenges (RADIUS Access-Challenge, /validate/check transaction_id)
gateway-challenge-next-code = Your key needs resynchronising: wait for the next code and enter it alone, without your PIN.
gateway-challenge-new-pin = Your PIN was reset: choose a new PIN.
gateway-challenge-new-pin-again = This PIN is not accepted (too short, too simple or too long): choose another.
gateway-challenge-new-passcode = New PIN saved: wait for the next code, then enter your new PIN followed by that code.
token-pin-reset = PIN of key { $serial } reset: its holder will choose a new one at their next login.
# Academic directory sync (keyward directory, docs/directory.md)
end-reason-directory = directory
directory-no-run = No directory sync has run yet.
directory-daemon-running = The daemon is running on { $data }: it syncs the directory on its own schedule (stop it to run this command).
directory-not-configured = No [directory] table in the config file (docs/directory.md).
directory-stopped = The sync stopped before any change: check the changes above, then run again with --confirm.
directory-run = Directory run at { $at } from { $source }: { $entries } entries read; { $outcome }.
directory-outcome-applied = changes applied
directory-outcome-unchanged = nothing to change
directory-outcome-dry-run = dry run, nothing applied
directory-outcome-stopped = stopped by the guard, nothing applied
directory-entry-error = skipped entry { $dn }: { $problem }
directory-change-failed = change refused for { $subject }: { $error }

## Emergency access while a key is replaced (issue 17)
col-granted-by = GRANTED BY
col-expires = EXPIRES
emergency-pin = Holder, type your PIN (hidden):
emergency-granted = Emergency access for { $holder } until { $until }.
emergency-sheet-in-order = One-time codes: use them in order, each once, after your PIN.
emergency-scan = Scan this address with an authenticator app, then use its code after your PIN:
emergency-shown-once = This is shown once only: nothing is kept. It ends when your new key is activated.
emergency-revoked = Emergency access { $serial } ended.
emergency-slip = Signed slip (keep it with the help request):

# Store on PostgreSQL (issue 19)
## Forgotten PIN at a station (issue 17)
detail-no_pin_reset_approval = no approval of the key's district inspector is in force: ask them to approve the PIN reset
detail-person_left = the person has left the authority: nothing new is given to them (no key, right, request or code)
token-pin-reset-approved = PIN reset of key { $serial } approved until { $until }: its holder comes to a station with the key (keyward station --forgotten-pin).
station-pin-reset-not-active = This key is not active: a forgotten PIN is reset only on an active key.
station-pin-reset-intro = Forgotten PIN: your inspector approved the reset. The station reads a code from your key to check it is yours.
station-pin-reset-no-approval = No approval of your inspector is in force for this key: ask your inspector to approve the PIN reset, then come back.
station-pin-reset-failed = The PIN reset failed: { $error }
station-pin-resetting = resetting the PIN
station-pin-reset-done = The PIN of your key { $serial } is changed: your old PIN no longer works.
station-pin-reset-slip = Signed PIN reset slip: { $path }

## Scheduled mails of the school year (issue 17)
mail-scheduled = Mails queued: { $invitations } invitation(s) to the handover meeting, { $reminders } return reminder(s), { $overdue } overdue notice(s).
## Console: paged lists and counts (issue 14)
console-pages = Pages of the list
console-page-range = { $first } to { $last } of { $total }
console-page-empty = Nothing found ({ $total }).
console-page-prev = Previous page
console-page-next = Next page
console-glance-districts = Keys by district
console-glance-no-district = no holder
console-nav-audit = Audit log
console-audit-title = Audit log
console-audit-action = Action
console-audit-action-hint = its beginning is enough (token.: every action on keys)
console-audit-subject = Subject
console-audit-actor = Actor
console-audit-from = From (day included)
console-audit-until = To (day included)
console-audit-when = Date and time
console-audit-detail = Detail
console-audit-found = { $count } entr(y/ies)
console-checkpoints = Signed checkpoints
console-checkpoints-head = Latest audit entry
console-checkpoints-last = Entry of the last signed checkpoint
console-checkpoints-every = One checkpoint every N entries
console-checkpoints-file = Checkpoint file
console-one-key = Operations on key { $serial }
console-act-wipe = Wipe the inserted key
console-act-resync = Resynchronise
console-resync-hint = The holder reads two consecutive codes from their key; they only serve to resynchronise it.
console-resync-first = First code
console-resync-second = Next code
console-done-on = done on key { $serial }.

## Console: the admin's people, appointments, schools and staff keys
console-person-add = Add a person
console-person-add-go = Add the person
console-person-added = { $id } added.
console-nav-appointments = Appointments
console-appointments-title = Appointments
console-appointments-of = Appointments of { $id }
console-appointment-start = Start
console-appointment-end = End
console-appointment-status = State
console-appointment-reason = Reason for the end
console-appointment-in-force = in force
console-appointment-not-in-force = not in force
console-appointment-grant = Record an appointment
console-appointment-grant-go = Record the appointment
console-appointment-ends-previous = The school's director in place leaves their appointment for the reason
console-appointment-keeps-previous = none (the school has no director)
console-appointment-granted = appointment { $id } recorded.
console-appointment-end-one = End an appointment
console-appointment-end-on = Last day (today if empty)
console-appointment-end-go = End the appointment
console-appointment-ended = appointment { $id } ended.
console-nav-schools = Districts and schools
console-schools-title = Districts and schools
console-districts = Districts
console-schools = Schools
console-district-code = District (code)
console-district-inspector = Inspector (login)
console-district-no-inspector = none
console-district-add = Add a district
console-district-add-go = Add the district
console-district-added = district { $code } added.
console-school-uai = UAI
console-school-add = Add a school
console-school-add-go = Add the school
console-school-added = school { $uai } added.
console-nav-staff-keys = Staff keys
console-staff-keys-title = Staff access keys
console-staff-key-number = Access key number
console-staff-key-role = Role
console-staff-key-district = District (for an inspector)
console-staff-key-created = Created
console-staff-key-state = State
console-staff-key-active = active
console-staff-key-revoked-at = revoked on { $at }
console-staff-key-grant = Grant an access key
console-staff-key-grant-hint = The person then signs in to the console with their own OTP key; a person's access key is never shown.
console-staff-key-grant-go = Grant the access key
console-staff-key-granted = access key { $id } granted.
console-staff-key-revoke = Revoke an access key
console-staff-key-revoke-go = Revoke the access key
console-staff-key-revoked = access key { $id } revoked.
console-staff-key-name = Access key name
## keyward nodes on PostgreSQL (issue 19)
serve-postgres-not-ported = a keyward node on PostgreSQL does not do { $what } yet (docs/postgres.md): only the gateway's POST /v1/verify is served there. Remove it from this node, or serve it from the authority's SQLite daemon
serve-postgres-connect = connecting to PostgreSQL database { $database } on { $host }
store-copy-not-postgres = --to must be a postgres:// url
store-copied = copied to PostgreSQL database { $database }: { $credentials } credentials in service, { $keys } gateway API keys, { $rights } rights ({ $skipped } live credentials of tokens not in service left behind)

## Console: "at a glance" charts and the live desk (issue 14)
console-glance-intro = Each chart is followed by the table of its figures. Dates are the authority's (Martinique time).
console-glance-see-table = The figures are in the table that follows.
console-glance-table-of = Figures of the chart “{ $chart }”
console-glance-label = Row
console-glance-total = Total
console-glance-states-desc = How many keys are in each state, every district together.
console-glance-districts-desc = How many keys serve a right in each district.
console-glance-overdue-desc = Keys whose return date has passed, by district.
console-glance-in-transit-desc = Keys returned to the inspector, not yet received at the IT centre.
console-glance-returns = Returns around the July deadline, by week
console-glance-returns-desc = Eight weeks around this year's return deadline (the week marked with an asterisk holds it): keys still out by the week their return falls due, overdue or not yet, and keys returned each week.
console-glance-week-of = week of { $day }
console-glance-overdue-series = overdue
console-glance-due-series = due
console-glance-returned-series = returned
console-glance-preparation = The August meeting's preparation
console-glance-preparation-desc = By district: keys prepared and waiting for their handover, and keys an inspector asked for, not yet prepared.
console-glance-prepared = prepared
console-glance-to-prepare = to prepare
console-glance-verify = Verifications and locks per day
console-glance-verify-desc = The last fourteen days: codes accepted, refusals (a refusal repeated within a minute counts once) and refusals that locked a key, from the audit.
console-glance-accepted = accepted
console-glance-refused = refused
console-glance-locked = locks
console-readers-live = This table updates itself when a key is inserted or removed (without script: refresh the page).
console-refresh = Refresh
console-glance-all-districts = every district
console-nav-appointment-list = All appointments
console-appointment-list-title = All appointments
console-appointment-list-person = Person (login or name)
console-appointment-list-state = State
console-appointment-list-any = in force or ended
console-appointment-list-from = Start
console-appointment-list-until = End
console-appointment-list-ended-at = Ended on
console-appointment-list-found = { $count } appointments found

# Directory over TLS and its errors (keyward directory, docs/directory.md)
directory-error-connect = Cannot connect to the directory { $url }: { $why }
directory-error-untrusted = The certificate of the directory { $url } is not trusted ({ $why }): set [directory] ca_file to the authority's CA. Nothing was changed.
directory-error-ca-file = The directory's CA file { $path } { $problem }. Nothing was changed.
directory-ca-unreadable = cannot be read ({ $why })
directory-ca-too-large = is too large
directory-ca-no-certificate = holds no PEM certificate
directory-ca-bad-certificate = holds a certificate that does not decode
directory-error-bind = The directory refused the bind as { $dn }: wrong DN or password (result code { $code }). Nothing was changed.
directory-error-search = Searching { $base } in the directory failed: { $why }. Nothing was changed.
directory-error-password = The directory's bind password file: { $why }
directory-error-malformed = The directory answered an entry that does not decode. Nothing was changed.
## Console: batch preparation for the August meeting, live (issue 14)
console-nav-batch = Batch preparation
console-batch-title = Batch preparation
console-batch-intro = Choose the holders and the reader, then start: the daemon prepares each blank key inserted at that reader for the next holder, under the same rules as preparing one key. You may close the page: the batch goes on (a restart of the daemon ends it; the keys already prepared stay prepared).
console-batch-find = Add holders by search
console-batch-start = Start a batch
console-batch-requests = Open key requests
console-batch-found = People found
console-batch-go = Start the batch
console-batch-list = Batches
console-batch-at = Batch at reader { $reader }
console-batch-by = started by { $who }
console-batch-running = running
console-batch-finished = finished
console-batch-cancelled = cancelled
console-batch-live = This table updates itself at each step (without script: reload the page).
console-batch-cancel = Cancel the batch
console-batch-back = Back to the batches
console-batch-caption = The batch's holders, in order
console-batch-prepared-count = { $count } prepared
console-batch-refused-count = { $count } refused
console-batch-step-waiting = waiting
console-batch-step-insert = insert a blank key
console-batch-step-preparing = preparing key { $serial }…
console-batch-step-prepared = prepared: key { $serial }
console-batch-step-refused = refused: { $why }
console-batch-step-cancelled = cancelled
console-batch-not-blank = Key { $serial } at the reader is not blank or failed: take it out and insert another.
console-batch-stopped-shutdown = The batch stopped: the daemon is shutting down.
console-batch-nobody = No holder chosen.
console-batch-no-reader = This reader is unknown.
console-batch-busy = A batch is already running at this reader (no. { $id }): wait for its end or cancel it.
console-batch-unknown = This batch is unknown (the daemon may have restarted).
console-batch-not-audited = The batch could not be written to the audit: it was not started.
console-batch-stopped-revoked = The batch stopped: the access key of the person who started it is revoked, or they have left.
console-batch-from-desk = Prepare several keys in a row (the August meeting): batch preparation
console-search-school = School (UAI or name)
console-prepare-no-blank = No key in stock is at a reader: insert a blank key to prepare it for one of these people.
console-person-title = Person
console-person-presence = Departure
console-person-left = has left the authority (departure recorded)
console-person-here = no departure recorded
console-person-live-key = OTP key in service
console-person-rights = Rights
console-person-appointments = Their appointments
console-person-back = Back to the person's page
console-right-origin = Origin
console-departure-title = A person's departure
console-departure-link = Record their departure
console-departure-recorded = The departure of { $id } is recorded.
console-departure-of = Departure of { $id }
console-departure-does = What recording the departure does
console-departure-does-record = The person is marked as having left the authority, today; the record is written to the audit (person.leave).
console-departure-does-keys = Their staff access keys (admin, desk, inspector), below, are refused from now on, by the API as by the console.
console-departure-no-keys = They have no active one.
console-departure-does-sessions = Their open console sessions end at their next request.
console-departure-does-no-new-key = No access key can be granted to them any more.
console-departure-does-rights = Their rights in force, below, and those to come end at once (end of function), each written to the audit (right.end): whoever left the authority holds no director function in it any more, and the gateway refuses their logins from then on.
console-departure-does-nothing-new = Nothing new is given to them any more: no OTP key (preparation, handover, activation), no right, no key request, no emergency access, no PIN reset.
console-departure-keys = Access keys refused from the departure on
console-departure-keeps = What the departure does not change
console-departure-keeps-token = Their OTP key { $serial } ({ $state }) stays recorded in their name: take it back like any key (the inspector's page or the key search).
console-departure-no-token = They have no OTP key in service.
console-departure-keeps-return = Only the directory records a return, when it names them again; their former access keys then stay revoked.
console-departure-record = Record the departure
console-departure-go = Record the departure of { $id }
console-departure-own = Nobody records their own departure: another admin must do it.
console-departure-unknown = This person does not exist.
console-departure-already = Their departure is already recorded.
console-departure-role = Only an admin records a departure.
console-station-key-title = A handover station's key
console-station-key-grant = Grant a key to a handover station
console-station-key-grant-hint = A handover station is a device (a kiosk), not a person: its key binds it to its readers. It is shown once, right after.
console-station-key-name = Station name
console-station-key-readers = Readers
console-station-key-readers-present = Readers where a key is present now
console-station-key-readers-typed = Other readers (one a line)
console-station-key-grant-go = Grant the key to the station
console-station-key-once = Copy this key now: it will never be shown again. keyward keeps only a hash of it.
console-station-key-where = Where to put it
console-station-key-where-console = On the station's computer, open the console's /station/signin page ("Sign in a handover station") and paste the key in the "Station key" field; the station stays signed in to its readers. When its session ends, it signs in again with the same key.
console-station-key-where-cli = For a command-line station (keyward station), put it in the KEYWARD_API_KEY environment variable of the service that runs it, in a file only that account can read (mode 0600).
console-station-key-where-not = Do not send it by mail or chat, do not write it on paper left by the station, do not put it in an address.
console-station-key-where-leak = If someone else may have seen it, revoke key no. { $id } on the access keys page and grant the station a new one.
console-station-key-done = I have put the key on the station: back to the access keys
