# Les messages de keyward en français. Chaque identifiant figure aussi dans
# en.ftl, avec les mêmes arguments (un test le vérifie). Typographie : espace
# avant « : » et « ; », guillemets français.

## Écriture des dates et heures (motifs strftime de jiff)
format-date-time = %d/%m/%Y %H:%M
format-date = %d/%m/%Y

## Éléments communs
none = (aucun)
yes = oui
no = non
open-ended = sans date de fin
error-prefix = keyward : erreur : { $error }

## En-têtes de tableaux
col-id = ID
col-name = NOM
col-mail = ADRESSE
col-code = CODE
col-inspector = INSPECTEUR
col-uai = UAI
col-district = CIRCONSCRIPTION
col-school = ÉCOLE
col-origin = ORIGINE
col-from = DU
col-until = AU
col-in-force = EN VIGUEUR
col-serial = NUMÉRO
col-profile = MODÈLE
col-state = ÉTAT
col-holder = TITULAIRE
col-revoked = RÉVOQUÉE
col-kind = TYPE
col-reader = LECTEUR
col-role = RÔLE
col-readers = LECTEURS
col-created = CRÉÉE
col-due = À RENDRE LE
col-days-late = JOURS DE RETARD
col-returned = RENDUE LE
col-days-waiting = JOURS D'ATTENTE
col-person = PERSONNE
col-requested = DEMANDÉE LE
col-status = STATUT
col-token = CLÉ
col-reason = MOTIF
col-old-token = ANCIENNE CLÉ
col-received = REÇUE LE
col-new-token = NOUVELLE CLÉ
col-ended = TERMINÉ LE
col-end-reason = MOTIF DE FIN
status-open = ouverte
status-fulfilled = satisfaite
end-reason-retraite = retraite
end-reason-mutation = mutation
end-reason-changement_de_corps = changement de corps
end-reason-fin_de_fonction = fin de fonction
end-reason-autre = autre

## Valeurs affichées dans les tableaux (--json garde les mots de l'API)
state-stock = en stock
state-prepared = préparée
state-handed_over = remise
state-active = en service
state-returned = restituée
state-wiped = effacée
state-revoked = révoquée
reason-lost = perdue
reason-stolen = volée
reason-broken = cassée
reason-faulty = défectueuse
origin-appointment = nomination
origin-delegation = délégation
role-admin = administrateur
role-desk = centre informatique
role-inspector = inspecteur
role-station = poste de remise
role-gateway = passerelle
receipt-kind-handover = remise
receipt-kind-return = restitution

## Champs des commandes « show »
field-id = identifiant
field-name = nom
field-mail = adresse
field-left = a quitté l'académie
field-live-token = clé détenue
field-rights = droits :
field-serial = numéro
field-profile = modèle
field-state = état
field-holder = titulaire
field-revoked-for = motif de révocation
field-kind = type
field-algorithm = algorithme
field-digits = chiffres
field-period = période
field-locked = bloquée
field-failures = échecs
live-token-value = { $serial } ({ $state })

## Personnes, circonscriptions, écoles
person-added = personne { $id } ajoutée
person-left = { $id } : départ enregistré
district-added = circonscription { $code } ajoutée
school-added = école { $uai } ajoutée

## Droits
appointment-recorded = nomination { $id } enregistrée
delegation-granted = délégation { $id } accordée
right-ended = droit { $id } terminé

## Clés
token-registered = clé { $serial } enregistrée en stock
token-prepared = clé { $serial } préparée pour { $holder }
token-handed-over = clé { $serial } remise
token-returned = clé { $serial } restituée, secret détruit
token-received = clé { $serial } reçue au centre informatique
token-wiped = clé { $serial } effacée
token-pin-unblocked = clé { $serial } : code PIN de la clé débloqué
token-restocked = clé { $serial } remise en stock
token-unlocked = clé { $serial } débloquée
token-resynced = clé { $serial } resynchronisée
token-revoked = clé { $serial } révoquée ({ $reason })
with-receipt = { $what } ; bordereau { $receipt } signé
serial-or-reader = indiquez le numéro de la clé (SERIAL) ou le lecteur (--reader) où elle se trouve
no-token-at-reader = aucune clé dans le lecteur « { $reader } » : insérez-la ou indiquez son numéro
batch-lists-nobody = { $file } ne nomme personne
batch-insert-for = insérez une clé vierge pour { $holder }
batch-not-blank = la clé { $serial } du lecteur { $reader } est { $state }, pas vierge : retirez-la
batch-waiting = en attente d'une clé vierge dans { $reader } pour { $holder }
batch-prepared = { $serial } préparée pour { $holder } : retirez-la, insérez la suivante
batch-not-prepared = { $holder } : non préparée : { $error }
batch-failed = préparation de { $serial } pour { $holder }
batch-done = lot : { $prepared } préparée(s), { $failed } non
opening-file = ouverture de { $file }
reading-file = lecture de { $file }
writing-file = écriture de { $file }
creating-dir = création de { $dir }
reading-events = lecture du flux d'événements
events-closed = le démon a fermé le flux d'événements
reading-stdin = lecture de l'entrée standard
stdin-ended = l'entrée standard s'est terminée avant une réponse
reading-hidden = lecture de la saisie masquée

## Demandes de clé et de remplacement
key-request-queued = demande de clé { $id } transmise au centre informatique
replacement-filed = demande de remplacement { $id } enregistrée
replacement-filed-revoked = demande de remplacement { $id } enregistrée ; l'ancienne clé est révoquée

## Lecteurs
event-inserted = insérée dans { $reader } : numéro { $serial }, modèle { $profile }
event-removed = retirée de { $reader }
event-token = la clé { $serial } est maintenant { $state }

## Rapports
report-district = { $district } :

## Clés d'API
apikey-created = clé d'API { $id } ({ $role }) créée ; elle n'est affichée qu'une fois :
apikey-revoked = clé d'API { $id } révoquée

## Journal d'audit
audit-ok = audit : intègre, { $entries } { $entries ->
    [one] entrée
   *[other] entrées
  }, tête { $head }
audit-broken = audit : ALTÉRÉ : { $why }
audit-broken-at = audit : ALTÉRÉ à l'entrée { $entry } : { $why }
audit-row-bad = lignes : ALTÉRÉE { $row } : modifiée hors de keyward
audit-rows-ok = lignes : intègres, { $rows } lignes d'état correspondent à leur MAC
audit-rows-changed = { $count } lignes d'état ont été modifiées hors de keyward
audit-rows-not-sealed = lignes : non vérifiées : keyward a été mis à jour et n'a pas redémarré depuis
audit-checkpoints-ok = points de contrôle : intègres, { $count } points signés correspondent, le dernier à l'entrée { $latest }
audit-rows-unlisted = lignes : et { $count } autres lignes ALTÉRÉES, non listées
audit-rows-tables = lignes par table : { $tables }
audit-rows-table = { $table } { $rows }
audit-rows-table-bad = { $table } { $rows } (dont { $bad } { $bad ->
    [one] altérée
   *[other] altérées
  })
audit-checkpoint-postgres = --checkpoint ne s'applique pas encore à un stockage PostgreSQL (docs/postgres.md) : vérifiez sans lui la chaîne et les lignes

## Vérification
verify-prompt = Code (PIN puis code de la clé) :
verify-accept = accepté
verify-reject = refusé
verify-right = directeur de { $school } ({ $origin }, { $until })
verify-until = jusqu'au { $date }
verify-empty = aucun code saisi : tapez le PIN suivi du code de la clé

## Bordereaux (commandes)
receipt-signature-valid = signature : valide (clé { $key })

## Initialisation
init-done = keyward : { $dir } initialisé
init-initialising = initialisation de { $dir }
init-files = configuration { $config }, clé maîtresse { $master }, base { $db } (clé des bordereaux scellée dedans)
init-radius = RADIUS sur udp://127.0.0.1:1812 pour une passerelle sur cette machine ; secret partagé dans { $file }
init-keep-key = Conservez la clé ci-dessous en lieu sûr : elle n'est affichée qu'une fois (à utiliser comme KEYWARD_API_KEY).
init-admin-key = clé d'API administrateur :
init-not-empty = { $dir } existe déjà et n'est pas vide : refus de l'écraser

## Poste de remise
station-take-out = Retirez la clé, s'il vous plaît.
station-waiting = En attente d'une clé dans { $reader }…
station-any-reader = le lecteur du poste
station-key-at = Clé { $serial } dans { $reader }
station-holder = titulaire : { $holder }
station-state = état :      { $state }
station-already-active = Cette clé est déjà en service : rien à faire ici.
station-not-handed-over = Cette clé n'a pas encore été remise : l'inspecteur ou le centre informatique enregistre d'abord la remise.
station-cannot-activate = Cette clé ne peut pas être mise en service (état { $state }) : adressez-vous au centre informatique.
station-rules-intro = En mettant cette clé en service, vous reconnaissez les règles suivantes :
station-acknowledge = Tapez « oui » pour les reconnaître :
station-yes = oui
station-must-acknowledge = La clé ne peut être mise en service qu'une fois les règles reconnues.
station-choose-pin = Choisissez votre code personnel (PIN) : 6 à 8 chiffres, difficile à deviner. Vous le taperez avant chaque code.
station-pin = PIN :
station-pin-again = PIN (confirmation) :
station-pin-refused = PIN refusé : { $why }
station-pin-refused-choose = PIN refusé : { $why }. Choisissez-en un autre.
station-pins-differ = Les deux PIN diffèrent. Recommencez, s'il vous plaît.
station-activation-failed = La mise en service a échoué : { $error }
station-activating = mise en service de la clé
station-active = Votre clé { $serial } est en service.
station-receipt-saved = Bordereau de remise : { $path }
station-no-receipt = (le démon n'a renvoyé aucun numéro de bordereau)
station-receipt-bad-signature = la signature du bordereau de remise n'est pas valide

## Bordereaux
receipt-title-handover = Bordereau de remise de clé OTP
receipt-title-return = Bordereau de restitution de clé OTP
receipt-number = { $title } n° { $number }
receipt-line = { $label } : { $value }
receipt-token = Clé (numéro de série)
receipt-holder = Titulaire
receipt-counterparty-handover = Remise par
receipt-counterparty-return = Reçue par
receipt-district = Circonscription
receipt-place = Lieu
receipt-time = Date et heure
receipt-reason = Motif
receipt-rules = Le titulaire reconnaît que :
receipt-signatures = Signatures du titulaire et de l'agent :
receipt-check = Bloc signé électroniquement (vérifiable avec « keyward receipts verify ») :

## Les règles que reconnaît le titulaire (par identifiant de règle)
rule-personal-not-transferable = La clé est nominative et personnelle : elle ne peut être ni prêtée ni cédée.
rule-kept-while-director = Je conserve la clé tant que j'exerce une fonction de directeur d'école dans l'académie.
rule-returned-on-leaving = Je la restitue à l'inspecteur de ma circonscription dès que je quitte cette fonction.
rule-help-from-personal-address = En cas de panne, perte ou vol, j'écris au support depuis mon adresse académique personnelle, mon inspecteur en copie.
rule-pin-is-secret = Je garde mon code personnel secret et ne le note pas avec la clé.
rule-returned-key-revoked = La clé restituée est révoquée : elle ne donne plus accès aux applications.
rule-forwarded-to-it-centre = L'inspecteur transmet la clé au centre informatique dans les meilleurs délais.

## Erreurs affichées par la ligne de commande
# Un refus de l'API : ce que signifient son code (et son détail, son champ),
# puis le texte du serveur (en anglais).
api-error = { $meaning } ({ $code }). Serveur : { $message }
api-error-field = { $meaning } (champ { $field }, { $code }). Serveur : { $message }
error-bad_request = requête mal formée
error-unauthenticated = clé d'API absente, inconnue ou révoquée
error-forbidden = votre clé d'API ne permet pas cette opération
error-own_act = personne n'agit sur ses propres droits ou sa propre clé : un(e) collègue doit le faire
error-not_found = introuvable
error-conflict = refusé par une règle
error-device_absent = aucune clé dans ce lecteur
error-payload_too_large = requête trop volumineuse
error-invalid = saisie invalide
error-rate_limited = trop d'échecs depuis ce poste : réessayez plus tard
error-device_error = la clé a échoué
error-unavailable = keyward est indisponible (arrêt en cours ou base en panne)
error-internal = erreur interne du démon (voir son journal)
detail-invalid_transition = l'état de la clé ne permet pas cette opération
detail-holder_has_live_token = la personne a déjà une clé en service : restituez-la ou révoquez-la d'abord
detail-record_tampered = un enregistrement nécessaire a été modifié hors de keyward : rien n'est fait (lancez keyward audit verify)
detail-touch_timeout = la clé n'a pas été touchée à temps : rien n'a changé
detail-held_by_another_program = un autre programme tient la clé (fermez-le, par exemple scdaemon, puis recommencez)
detail-director_in_place = l'école a déjà un directeur nommé : terminez d'abord sa nomination (--ends-previous)
detail-already_director = la personne dirige déjà cette école : une délégation n'a pas de sens
detail-replacement_request_required = une nouvelle clé après une révocation exige une demande d'assistance validée ou une demande de l'inspecteur
detail-no_right = la personne n'a aucun droit en vigueur ni à venir
detail-possession_check_failed = la clé présentée n'a pas donné un code correct
detail-open_key_request = la personne a déjà une demande de clé en cours
detail-request_fulfilled = la demande a déjà été servie
detail-duplicate = existe déjà
detail-help_mail_refused = le courriel de demande d'aide ne respecte pas les règles
detail-removed = la clé a été retirée pendant l'opération
detail-read_back_mismatch = l'écriture n'a pas pu être relue à l'identique
detail-wrong_pin = code PIN de la clé erroné
detail-pin_blocked = le code PIN de la clé est bloqué
detail-locked = la clé est verrouillée par un code d'accès
detail-status = la clé a répondu par une erreur
detail-no_card = aucune clé dans le lecteur
detail-unsupported = la clé ne permet pas cette opération
detail-unknown_profile = modèle de clé inconnu
detail-access_code_refused = la clé a refusé le code d'accès
detail-write_not_proved = l'écriture n'a pas pu être prouvée
detail-device = la clé a échoué
error-unreachable = impossible de joindre keyward à { $url } : { $why } (`keyward serve` est-il lancé ? réglez KEYWARD_URL ou --url)
error-protocol = réponse inattendue du serveur (HTTP { $status }) : { $why }
error-no-api-key = aucune clé d'API : réglez KEYWARD_API_KEY ou passez --api-key

## keyward reader, otp, sim, serve
unknown = inconnu
reader-connecting = connexion à pcscd
reader-added = lecteur ajouté : { $reader }
reader-removed = lecteur retiré : { $reader }
reader-identified = modèle { $profile }, numéro { $serial }
reader-not-identified = non identifiée : { $error }
reader-inserted = insérée : { $reader } (ATR { $atr } ; { $who })
reader-token-removed = retirée : { $reader }
reader-info-reader = lecteur : { $value }
reader-info-profile = modèle : { $value }
reader-info-serial = numéro : { $value }
reader-info-version = version OATH : { $value }
reader-info-device = identifiant de l'appareil : { $value }
reader-info-credentials = identifiants : { $value }
reader-credentials-locked = verrouillés par un code d'accès
reader-credentials-free = { $count } ({ $free } emplacements libres)
otp-one-secret = indiquez soit --secret soit --hex-secret, pas les deux
serve-virtual-token = ouverture de la clé virtuelle
serve-touch-key = branchement de la clé tactile simulée
serve-listen = écoute sur { $address }
sim-serving = keyward sim : clé { $serial } servie au lecteur vpcd { $vpcd }
error-bad-public-key = la clé publique doit faire 32 octets Ed25519, en hexadécimal ou en base64
error-wrong-receipt-key = le bordereau a été signé par la clé { $found }, pas par la clé indiquée { $expected }
error-bad-signature = la signature du bordereau n'est pas valide : le bordereau a été modifié ou falsifié
pin-length = un PIN compte de { $min } à { $max } chiffres
pin-not-digits = un PIN ne contient que des chiffres
pin-too-common = ce PIN est trop facile à deviner (chiffres répétés, suite ou motif répété) : choisissez-en un autre

## Touching a key
touch-to-type = Touchez la clé maintenant : elle tape son code (rien ne s'affiche).
touch-to-confirm = Touchez la clé maintenant pour confirmer (appuyez sur son bouton dans les 15 secondes).
touch-timed-out = La clé n'a pas été touchée à temps : rien n'a changé. Recommencez et touchez-la quand elle le demande.
touch-nothing-typed = la clé n'a rien tapé

## Mail (case 3 read from the help desk's mailbox)
reason-to-qualify = à qualifier
mail-ingest-filed = message lu : demande d'assistance { $id } enregistrée (motif : { $kind })
mail-ingest-duplicate = message déjà lu : rien n'a été refait
mail-ingest-refused = message refusé ({ $why }) : ce n'est pas une demande d'assistance
mail-ingest-refused-replied = message refusé ({ $why }) : l'expéditeur a reçu une réponse lui disant quoi faire
replacement-qualified = demande d'assistance { $id } qualifiée : { $reason }
## The web console (src/console)
init-console-link = Console web, première connexion de cet administrateur (une fois, sous 7 jours) : ouvrez l'adresse du démon suivie de { $path }
console-skip = Aller au contenu
console-nav = Menu principal
console-nav-desk = Guichet
console-nav-inspector = Ma circonscription
console-nav-tokens = Clés
console-nav-people = Personnes
console-nav-station = Poste de remise
console-role-admin = administrateur
console-role-desk = guichet
console-role-inspector = inspecteur
console-role-station = poste de remise
console-role-gateway = passerelle
console-other-language = English
console-signout = Se déconnecter
console-done = Fait :
console-error = Refusé :
console-refusal = { $why }
console-refused-title = Refusé
console-refused = Cette action a été refusée : la page n'était plus à jour ou votre session a pris fin. Rechargez la page, reconnectez-vous si demandé, et recommencez.
console-back-home = Retour à la console
console-signin-title = Connexion à keyward
console-signin-intro = Connectez-vous avec votre propre clé : votre identifiant, votre code PIN, puis le code affiché ou tapé par votre clé.
console-login = Identifiant
console-pin = Code PIN
console-code = Code de votre clé
console-signin = Se connecter
console-signin-refused = Connexion refusée : vérifiez votre identifiant, votre code PIN et le code, puis réessayez avec un nouveau code.
console-signin-limited = Trop d'échecs depuis ce poste : patientez un peu avant de réessayer.
console-signin-not-staff = Votre clé est valide mais ne donne pas accès à la console : adressez-vous à un administrateur.
console-station-signin-link = Connecter un poste de remise
console-bootstrap-title = Première connexion de l'administrateur
console-bootstrap-intro = Ce lien, affiché par keyward init, connecte une seule fois le premier administrateur. Ensuite, connectez-vous avec votre propre clé.
console-bootstrap-go = Se connecter comme premier administrateur
console-bootstrap-refused = Ce lien est inconnu, déjà utilisé ou expiré. Demandez-en un nouveau avec keyward init --add-admin.
console-desk-title = Guichet du centre informatique
console-readers = Lecteurs
console-readers-caption = Les lecteurs et la clé présente sur chacun
console-reader = Lecteur
console-serial = Numéro de série
console-state = État
console-holder = Titulaire
console-no-reader = Aucun lecteur n'est branché.
console-unknown-token = clé inconnue
console-prepare = Préparer une clé pour un titulaire
console-search-holder = Nom ou identifiant
console-search = Rechercher
console-nobody-found = Personne ne correspond à cette recherche.
console-prepare-at = Titulaire de la clé { $serial }
console-prepare-go = Préparer la clé
console-prepare-hint = Cherchez le titulaire par son nom ou son identifiant, par son école (UAI ou nom), ou les deux (2 caractères au moins), puis choisissez-le.
console-prepared = La clé { $serial } est préparée : elle peut être remise.
console-inspector-title = Clés de ma circonscription
console-inspector-intro = Remettez une clé préparée ou reprenez une clé : insérez-la dans le lecteur ; la lecture d'un code prouve sa possession.
console-no-token = Aucune clé à remettre ou à reprendre.
console-locked = bloquée
console-place = Lieu
console-reason = Motif du retour
console-handover-go = Remettre la clé
console-return-go = Reprendre la clé
console-tokens-title = Clés
console-any = tous
console-export-csv = Exporter en CSV
console-tokens-found = { $count } clé(s)
console-people-title = Personnes
console-name = Nom
console-mail = Courriel
console-slip-title = Bordereau
console-slip-handover = Reçu de remise
console-slip-return = Reçu de retour
console-slip-qr = QR code du reçu signé
console-slip-qr-caption = Reçu signé : vérifiable avec keyward receipts verify.
console-slip-export = Texte signé du reçu
console-slip-sign-holder = Signature du titulaire
console-slip-sign-staff = Signature de l'agent
console-slip-print = Imprimez ce bordereau (A4) avec la commande Imprimer du navigateur.
console-station-signin-title = Connecter un poste de remise
console-station-signin-intro = Saisissez une fois la clé de ce poste ; il reste ensuite connecté à ses lecteurs. Les directeurs ne se connectent jamais ici.
console-station-key = Clé du poste
console-station-refused = Cette clé n'est pas une clé de poste valide.
console-station-title = Poste de remise
console-station-readers = Lecteurs de ce poste : { $readers }
console-station-insert = Insérez votre clé dans le lecteur.
console-station-whose = Clé de { $holder }
console-station-rules-title = Les règles que vous acceptez
console-station-rule-personal = La clé est personnelle : personne d'autre ne l'utilise.
console-station-rule-secret = Votre code PIN reste secret : ne l'écrivez jamais à côté de la clé, ne le donnez à personne.
console-station-rule-lost = Une clé perdue ou volée est signalée aussitôt à votre inspecteur.
console-station-rule-return = La clé revient à votre inspecteur à la fin de votre nomination.
console-station-accept = J'accepte ces règles
console-station-pin-policy = Votre code PIN : 6 à 8 chiffres, pas une répétition (000000, 121212), pas une suite (123456, 987654), pas une valeur connue. Tapez-le deux fois.
console-station-pin = Nouveau code PIN
console-station-pin-again = Nouveau code PIN, à nouveau
console-station-activate = Activer ma clé
console-station-pins-differ = Les deux codes PIN diffèrent : tapez deux fois le même.
console-station-must-accept = Cochez d'abord la case pour accepter les règles.
console-station-not-ready = Cette clé n'attend pas de code PIN : adressez-vous à votre inspecteur.
console-station-activated = Votre clé est active. Imprimez le bordereau et conservez-le.
console-slip-when = Date et heure :
console-nav-glance = En un coup d'œil
console-glance-title = En un coup d'œil
console-glance-states = Clés par état
console-glance-overdue = Retours en retard, par circonscription
console-glance-in-transit = Retours en transit vers le centre informatique, par circonscription
console-glance-none = Rien à afficher.
console-glance-table = Les chiffres derrière le graphique
console-nav-delegations = Délégations
console-delegations-title = Délégations
console-delegation-grant = Accorder une délégation
console-delegation-intro = Un adjoint agit pour le directeur d'une école de votre circonscription, d'un jour à un jour (ou jusqu'à ce qu'on y mette fin).
console-school = École
console-from = Premier jour
console-until = Dernier jour (facultatif)
console-delegation-grant-go = Accorder la délégation
console-delegation-end = Mettre fin à une délégation maintenant
console-right-number = Numéro du droit
console-delegation-end-go = Mettre fin à la délégation
console-delegation-granted = Délégation { $id } accordée.
console-delegation-ended = Droit { $id } terminé.
console-key-requests = Demandes de clé
console-help-requests = Demandes d'aide (remplacements)
console-none = Aucune.
console-district = Circonscription
console-status = Statut
console-actions = Actions
console-act-receive = Reçue au centre informatique
console-act-restock = Remise en stock
console-act-unlock = Débloquer
# Verify writer (issue 11): refusal to start on a nearly full disk.
error-disk-nearly-full = le disque qui contient { $path } est presque plein ({ $available } Mio libres, il en faut au moins { $needed }) : la vérification ne démarre pas ; libérez de la place d'abord
## Coquille HTTP : TLS et limites de connexions (tickets 11, 14)
serve-plain-beyond-loopback = écoute refusée sur { $address } sans TLS : le HTTP en clair ferait passer clés et codes PIN en clair. Ajoutez une table [tls] (certificate, key) au fichier de configuration, ou écoutez sur 127.0.0.1
init-tls = certificat TLS auto-signé : { $certificate } (serve parle HTTPS ; les navigateurs avertiront tant qu'il n'est pas remplacé par un certificat de votre AC)
init-tls-add = certificat TLS auto-signé : { $certificate } ; à ajouter à { $config } : { $table }
## Gateway challenges (RADIUS Access-Challenge, /validate/check transaction_id)
gateway-challenge-next-code = Votre clé doit être resynchronisée : attendez le code suivant et saisissez-le seul, sans code PIN.
gateway-challenge-new-pin = Votre code PIN a été réinitialisé : choisissez un nouveau code PIN.
gateway-challenge-new-pin-again = Ce code PIN n'est pas accepté (trop court, trop simple ou trop long) : choisissez-en un autre.
gateway-challenge-new-passcode = Nouveau code PIN enregistré : attendez le code suivant et saisissez votre nouveau code PIN suivi de ce code.
token-pin-reset = Code PIN de la clé { $serial } réinitialisé : son titulaire en choisira un nouveau à sa prochaine connexion.
# Synchronisation avec l'annuaire académique (keyward directory, docs/directory.md)
end-reason-directory = annuaire
directory-no-run = Aucune synchronisation avec l'annuaire n'a encore eu lieu.
directory-daemon-running = Le démon tourne sur { $data } : il synchronise l'annuaire selon son calendrier (arrêtez-le pour lancer cette commande).
directory-not-configured = Pas de table [directory] dans le fichier de configuration (docs/directory.md).
directory-stopped = La synchronisation s'est arrêtée avant tout changement : vérifiez les changements ci-dessus, puis relancez avec --confirm.
directory-run = Synchronisation du { $at } depuis { $source } : { $entries } entrées lues ; { $outcome }.
directory-outcome-applied = changements appliqués
directory-outcome-unchanged = rien à changer
directory-outcome-dry-run = essai à blanc, rien d'appliqué
directory-outcome-stopped = arrêtée par la garde, rien d'appliqué
directory-entry-error = entrée ignorée { $dn } : { $problem }
directory-change-failed = changement refusé pour { $subject } : { $error }

## Accès de secours pendant le remplacement d'une clé (ticket 17)
col-granted-by = ACCORDÉ PAR
col-expires = EXPIRE
emergency-pin = Titulaire, saisissez votre code PIN (masqué) :
emergency-granted = Accès de secours pour { $holder } jusqu'au { $until }.
emergency-sheet-in-order = Codes à usage unique : utilisez-les dans l'ordre, chacun une fois, après votre code PIN.
emergency-scan = Scannez cette adresse avec une application d'authentification, puis saisissez son code après votre code PIN :
emergency-shown-once = Ceci n'est affiché qu'une fois : rien n'est conservé. L'accès prend fin à l'activation de votre nouvelle clé.
emergency-revoked = Accès de secours { $serial } terminé.
emergency-slip = Bordereau signé (à conserver avec la demande d'aide) :

# Store on PostgreSQL (issue 19)
## Code PIN oublié, au poste de remise (issue 17)
detail-no_pin_reset_approval = aucun accord de l'inspecteur de la circonscription de la clé n'est en cours : demandez-lui d'approuver la réinitialisation du code PIN
detail-person_left = la personne a quitté l'académie : rien de nouveau ne lui est remis (ni clé, ni droit, ni demande, ni code)
token-pin-reset-approved = Réinitialisation du code PIN de la clé { $serial } approuvée jusqu'au { $until } : son titulaire se présente à un poste de remise avec la clé (keyward station --forgotten-pin).
station-pin-reset-not-active = Cette clé n'est pas active : un code PIN oublié ne se réinitialise que sur une clé active.
station-pin-reset-intro = Code PIN oublié : votre inspecteur a approuvé la réinitialisation. Le poste lit un code de votre clé pour vérifier qu'elle est bien la vôtre.
station-pin-reset-no-approval = Aucun accord de votre inspecteur n'est en cours pour cette clé : demandez-lui d'approuver la réinitialisation du code PIN, puis revenez.
station-pin-reset-failed = La réinitialisation du code PIN a échoué : { $error }
station-pin-resetting = réinitialisation du code PIN
station-pin-reset-done = Le code PIN de votre clé { $serial } est changé : l'ancien ne fonctionne plus.
station-pin-reset-slip = Attestation signée de réinitialisation du code PIN : { $path }

## Courriels programmés de l'année scolaire (issue 17)
mail-scheduled = Courriels mis en file : { $invitations } invitation(s) à la réunion de remise, { $reminders } rappel(s) de restitution, { $overdue } relance(s) de retard.
## Console : listes par pages et comptes (ticket 14)
console-pages = Pages de la liste
console-page-range = { $first } à { $last } sur { $total }
console-page-empty = Aucun résultat ({ $total }).
console-page-prev = Page précédente
console-page-next = Page suivante
console-glance-districts = Clés par circonscription
console-glance-no-district = sans titulaire
console-nav-audit = Journal d'audit
console-audit-title = Journal d'audit
console-audit-action = Action
console-audit-action-hint = le début suffit (token. : toutes les actions sur les clés)
console-audit-subject = Objet
console-audit-actor = Auteur
console-audit-from = Du (jour inclus)
console-audit-until = Au (jour inclus)
console-audit-when = Date et heure
console-audit-detail = Détail
console-audit-found = { $count } entrée(s)
console-checkpoints = Points de contrôle signés
console-checkpoints-head = Dernière entrée du journal
console-checkpoints-last = Entrée du dernier point de contrôle signé
console-checkpoints-every = Un point de contrôle toutes les N entrées
console-checkpoints-file = Fichier des points de contrôle
console-one-key = Opérations sur la clé { $serial }
console-act-wipe = Effacer la clé insérée
console-act-resync = Resynchroniser
console-resync-hint = Le titulaire lit deux codes successifs de sa clé ; ils ne servent qu'à la resynchroniser.
console-resync-first = Premier code
console-resync-second = Code suivant
console-done-on = opération faite sur la clé { $serial }.

## Console: the admin's people, appointments, schools and staff keys
console-person-add = Ajouter une personne
console-person-add-go = Ajouter la personne
console-person-added = { $id } ajouté(e).
console-nav-appointments = Affectations
console-appointments-title = Affectations
console-appointments-of = Affectations de { $id }
console-appointment-start = Début
console-appointment-end = Fin
console-appointment-status = État
console-appointment-reason = Motif de fin
console-appointment-in-force = en vigueur
console-appointment-not-in-force = pas en vigueur
console-appointment-grant = Enregistrer une affectation
console-appointment-grant-go = Enregistrer l'affectation
console-appointment-ends-previous = Le directeur en place à l'école quitte son affectation pour le motif
console-appointment-keeps-previous = aucun (l'école n'a pas de directeur)
console-appointment-granted = affectation { $id } enregistrée.
console-appointment-end-one = Mettre fin à une affectation
console-appointment-end-on = Dernier jour (aujourd'hui si vide)
console-appointment-end-go = Mettre fin à l'affectation
console-appointment-ended = affectation { $id } terminée.
console-nav-schools = Circonscriptions et écoles
console-schools-title = Circonscriptions et écoles
console-districts = Circonscriptions
console-schools = Écoles
console-district-code = Circonscription (code)
console-district-inspector = Inspecteur (identifiant)
console-district-no-inspector = aucun
console-district-add = Ajouter une circonscription
console-district-add-go = Ajouter la circonscription
console-district-added = circonscription { $code } ajoutée.
console-school-uai = UAI
console-school-add = Ajouter une école
console-school-add-go = Ajouter l'école
console-school-added = école { $uai } ajoutée.
console-nav-staff-keys = Clés du personnel
console-staff-keys-title = Clés d'accès du personnel
console-staff-key-number = Numéro de la clé d'accès
console-staff-key-role = Rôle
console-staff-key-district = Circonscription (pour un inspecteur)
console-staff-key-created = Créée le
console-staff-key-state = État
console-staff-key-active = active
console-staff-key-revoked-at = révoquée le { $at }
console-staff-key-grant = Donner une clé d'accès
console-staff-key-grant-hint = La personne se connecte ensuite à la console avec sa propre clé OTP ; la clé d'accès d'une personne n'est jamais affichée.
console-staff-key-grant-go = Donner la clé d'accès
console-staff-key-granted = clé d'accès { $id } donnée.
console-staff-key-revoke = Révoquer une clé d'accès
console-staff-key-revoke-go = Révoquer la clé d'accès
console-staff-key-revoked = clé d'accès { $id } révoquée.
console-staff-key-name = Nom de la clé d'accès
## Nœuds keyward sur PostgreSQL (issue 19)
serve-postgres-not-ported = un nœud keyward sur PostgreSQL ne prend pas encore en charge { $what } (docs/postgres.md) : seul le POST /v1/verify des passerelles y est servi. Retirez-le de ce nœud, ou servez-le depuis le démon SQLite de l’académie
serve-postgres-connect = connexion à la base PostgreSQL { $database } sur { $host }
store-copy-not-postgres = --to doit être une url postgres://
store-copied = copié dans la base PostgreSQL { $database } : { $credentials } identifiants en service, { $keys } clés d’API de passerelle, { $rights } droits ({ $skipped } identifiants actifs de clés hors service laissés de côté)

## Console: "at a glance" charts and the live desk (issue 14)
console-glance-intro = Chaque graphique est suivi du tableau de ses chiffres. Les dates sont celles de l'académie (heure de la Martinique).
console-glance-see-table = Les chiffres sont dans le tableau qui suit.
console-glance-table-of = Chiffres du graphique « { $chart } »
console-glance-label = Ligne
console-glance-total = Total
console-glance-states-desc = Nombre de clés dans chaque état, toutes circonscriptions confondues.
console-glance-districts-desc = Nombre de clés par circonscription du droit qu'elles servent.
console-glance-overdue-desc = Clés dont la date de retour est passée, par circonscription.
console-glance-in-transit-desc = Clés rendues à l'inspecteur, pas encore reçues au centre informatique.
console-glance-returns = Retours autour de l'échéance de juillet, par semaine
console-glance-returns-desc = Huit semaines autour de l'échéance de retour de cette année (la semaine marquée d'un astérisque la contient) : clés encore dehors selon la semaine où leur retour est dû, en retard ou pas encore, et clés rendues chaque semaine.
console-glance-week-of = semaine du { $day }
console-glance-overdue-series = en retard
console-glance-due-series = à rendre
console-glance-returned-series = rendues
console-glance-preparation = Préparation de la réunion d'août
console-glance-preparation-desc = Par circonscription : clés préparées qui attendent leur remise, et clés demandées par un inspecteur pas encore préparées.
console-glance-prepared = préparées
console-glance-to-prepare = à préparer
console-glance-verify = Vérifications et verrouillages par jour
console-glance-verify-desc = Les quatorze derniers jours : codes acceptés, refus (un refus répété dans la minute compte une fois) et refus qui ont verrouillé une clé, d'après le journal d'audit.
console-glance-accepted = acceptés
console-glance-refused = refusés
console-glance-locked = verrouillages
console-readers-live = Ce tableau se met à jour tout seul quand une clé est insérée ou retirée (sans script : actualisez la page).
console-refresh = Actualiser
console-glance-all-districts = toutes circonscriptions
console-nav-appointment-list = Toutes les affectations
console-appointment-list-title = Toutes les affectations
console-appointment-list-person = Personne (identifiant ou nom)
console-appointment-list-state = État
console-appointment-list-any = en vigueur ou non
console-appointment-list-from = Début
console-appointment-list-until = Fin
console-appointment-list-ended-at = Terminée le
console-appointment-list-found = { $count } affectations trouvées

# Directory over TLS and its errors (keyward directory, docs/directory.md)
directory-error-connect = Connexion impossible à l'annuaire { $url } : { $why }
directory-error-untrusted = Le certificat de l'annuaire { $url } n'est pas reconnu ({ $why }) : indiquez l'autorité de certification de l'académie dans ca_file de [directory]. Rien n'a été changé.
directory-error-ca-file = Le fichier d'autorité de certification de l'annuaire { $path } { $problem }. Rien n'a été changé.
directory-ca-unreadable = ne peut être lu ({ $why })
directory-ca-too-large = est trop gros
directory-ca-no-certificate = ne contient aucun certificat PEM
directory-ca-bad-certificate = contient un certificat illisible
directory-error-bind = L'annuaire a refusé l'authentification en tant que { $dn } : DN ou mot de passe erroné (code { $code }). Rien n'a été changé.
directory-error-search = La recherche de { $base } dans l'annuaire a échoué : { $why }. Rien n'a été changé.
directory-error-password = Le fichier du mot de passe de l'annuaire : { $why }
directory-error-malformed = L'annuaire a répondu une entrée illisible. Rien n'a été changé.
## Console: batch preparation for the August meeting, live (issue 14)
console-nav-batch = Préparation en série
console-batch-title = Préparation en série
console-batch-intro = Choisissez les titulaires et le lecteur, puis lancez : le démon prépare chaque clé vierge insérée dans ce lecteur pour le titulaire suivant, avec les mêmes règles que la préparation d'une clé. Vous pouvez fermer la page : la série continue (un redémarrage du démon l'arrête ; les clés déjà préparées le restent).
console-batch-find = Ajouter des titulaires par recherche
console-batch-start = Lancer une série
console-batch-requests = Demandes de clé en cours
console-batch-found = Personnes trouvées
console-batch-go = Lancer la série
console-batch-list = Séries
console-batch-at = Série au lecteur { $reader }
console-batch-by = lancée par { $who }
console-batch-running = en cours
console-batch-finished = terminée
console-batch-cancelled = annulée
console-batch-live = Ce tableau se met à jour tout seul à chaque étape (sans script : actualisez la page).
console-batch-cancel = Annuler la série
console-batch-back = Retour aux séries
console-batch-caption = Titulaires de la série, dans l'ordre
console-batch-prepared-count = { $count } préparée(s)
console-batch-refused-count = { $count } refusée(s)
console-batch-step-waiting = en attente
console-batch-step-insert = insérez une clé vierge
console-batch-step-preparing = préparation de la clé { $serial }…
console-batch-step-prepared = préparée : clé { $serial }
console-batch-step-refused = refusé : { $why }
console-batch-step-cancelled = annulé
console-batch-not-blank = La clé { $serial } du lecteur n'est pas vierge ou a échoué : retirez-la et insérez-en une autre.
console-batch-stopped-shutdown = La série s'est arrêtée : le démon s'arrête.
console-batch-nobody = Aucun titulaire choisi.
console-batch-no-reader = Ce lecteur est inconnu.
console-batch-busy = Une série est déjà en cours à ce lecteur (n° { $id }) : attendez sa fin ou annulez-la.
console-batch-unknown = Cette série est inconnue (le démon a peut-être redémarré).
console-batch-not-audited = La série n'a pas pu être inscrite au journal d'audit : elle n'est pas lancée.
console-batch-stopped-revoked = La série s'est arrêtée : la clé d'accès de la personne qui l'a lancée est révoquée, ou cette personne est partie.
console-batch-from-desk = Préparer plusieurs clés à la suite (réunion d'août) : préparation en série
console-search-school = École (UAI ou nom)
console-prepare-no-blank = Aucune clé en stock n'est à un lecteur : insérez une clé vierge pour la préparer pour l'une de ces personnes.
console-person-title = Personne
console-person-presence = Départ
console-person-left = a quitté l'académie (départ enregistré)
console-person-here = pas de départ enregistré
console-person-live-key = Clé OTP en service
console-person-rights = Droits
console-person-appointments = Ses nominations
console-person-back = Retour à la fiche de la personne
console-right-origin = Origine
console-departure-title = Départ d'une personne
console-departure-link = Enregistrer son départ
console-departure-recorded = Le départ de { $id } est enregistré.
console-departure-of = Départ de { $id }
console-departure-does = Ce que l'enregistrement du départ fait
console-departure-does-record = La personne est marquée comme partie de l'académie, aujourd'hui ; l'enregistrement est inscrit au journal d'audit (person.leave).
console-departure-does-keys = Ses clés d'accès du personnel (administrateur, guichet, inspecteur), ci-dessous, sont refusées dès maintenant, par l'API comme par la console.
console-departure-no-keys = Elle n'en a aucune d'active.
console-departure-does-sessions = Ses sessions ouvertes dans la console se ferment à leur prochaine requête.
console-departure-does-no-new-key = Aucune clé d'accès ne pourra plus lui être donnée.
console-departure-does-rights = Ses droits en vigueur, ci-dessous, et ceux à venir prennent fin aussitôt (fin de fonction), chacun inscrit au journal d'audit (right.end) : qui a quitté l'académie n'y exerce plus de fonction de directeur, et la passerelle refuse ses connexions dès ce moment.
console-departure-does-nothing-new = Rien de nouveau ne lui est plus remis : ni clé OTP (préparation, remise, activation), ni droit, ni demande de clé, ni accès de secours, ni réinitialisation du code PIN.
console-departure-keys = Clés d'accès refusées dès le départ
console-departure-keeps = Ce que le départ ne change pas
console-departure-keeps-token = Sa clé OTP { $serial } ({ $state }) reste enregistrée à son nom : reprenez-la comme toute clé (page de l'inspecteur ou recherche de clés).
console-departure-no-token = Elle n'a pas de clé OTP en service.
console-departure-keeps-return = Seul l'annuaire enregistre un retour, quand il la nomme à nouveau ; ses anciennes clés d'accès restent alors révoquées.
console-departure-record = Enregistrer le départ
console-departure-go = Enregistrer le départ de { $id }
console-departure-own = Personne n'enregistre son propre départ : un autre administrateur doit le faire.
console-departure-unknown = Cette personne n'existe pas.
console-departure-already = Son départ est déjà enregistré.
console-departure-role = Seul un administrateur enregistre un départ.
console-station-key-title = Clé d'un poste de remise
console-station-key-grant = Donner une clé à un poste de remise
console-station-key-grant-hint = Un poste de remise est un appareil (une borne), pas une personne : sa clé le lie à ses lecteurs. Elle est affichée une seule fois, juste après.
console-station-key-name = Nom du poste
console-station-key-readers = Lecteurs
console-station-key-readers-present = Lecteurs où une clé est présente en ce moment
console-station-key-readers-typed = Autres lecteurs (un par ligne)
console-station-key-grant-go = Donner la clé au poste
console-station-key-once = Copiez cette clé maintenant : elle ne sera plus jamais affichée. keyward n'en garde qu'une empreinte.
console-station-key-where = Où la mettre
console-station-key-where-console = Sur l'ordinateur du poste, ouvrez la page /station/signin de la console (« Connecter un poste de remise ») et collez la clé dans le champ « Clé du poste » ; le poste reste connecté à ses lecteurs. Après la fin de sa session, il se reconnecte avec la même clé.
console-station-key-where-cli = Pour un poste en ligne de commande (keyward station), mettez-la dans la variable d'environnement KEYWARD_API_KEY du service qui le lance, dans un fichier lisible par ce seul compte (droits 0600).
console-station-key-where-not = Ne l'envoyez ni par courriel ni par messagerie, ne la notez pas sur un papier laissé près du poste, ne la mettez pas dans une adresse.
console-station-key-where-leak = Si elle a pu être vue par quelqu'un d'autre, révoquez la clé n° { $id } sur la page des clés d'accès et donnez-en une nouvelle au poste.
console-station-key-done = J'ai mis la clé sur le poste : revenir aux clés d'accès
