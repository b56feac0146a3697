//! The mails keyward writes, French and English, from templates the
//! authority can adjust: a file `<id>.<lang>.txt` in the configured
//! directory (`[mail] templates`) overrides the built-in text. A template is
//! a `Subject:` line, a blank line, then the body; `{name}` is replaced by
//! the value of that argument. Rendering is pure; the daemon reads the
//! directory once at start.

use std::collections::HashMap;

use crate::i18n::Lang;

/// Every mail keyward writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateId {
    /// To the sender: write from your personal address, not the school's.
    ReplySchoolMailbox,
    /// To the sender: this address is not a holder's personal address.
    ReplyUnknownSender,
    /// To the sender: no key is known for you.
    ReplyNoKey,
    /// To the sender: put your inspector in copy.
    ReplyInspectorNotInCopy,
    /// To the sender: the message could not be read (size, form).
    ReplyUnreadable,
    /// To the desk: a new help request.
    DeskNewRequest,
    /// To the holder and the inspector: the new key is ready.
    KeyReady,
    /// To a new director: the August handover meeting.
    AugustInvitation,
    /// To a leaver and their inspector: the key is due back in July.
    ReturnReminder,
    /// To an inspector: keys of their district overdue.
    OverdueNotice,
    /// To a holder: a replayed code or a lock on their key.
    SecurityAlert,
    /// To the holder and the inspector: emergency access was granted.
    EmergencyGranted,
}

impl TemplateId {
    pub const ALL: &'static [TemplateId] = &[
        TemplateId::ReplySchoolMailbox,
        TemplateId::ReplyUnknownSender,
        TemplateId::ReplyNoKey,
        TemplateId::ReplyInspectorNotInCopy,
        TemplateId::ReplyUnreadable,
        TemplateId::DeskNewRequest,
        TemplateId::KeyReady,
        TemplateId::AugustInvitation,
        TemplateId::ReturnReminder,
        TemplateId::OverdueNotice,
        TemplateId::SecurityAlert,
        TemplateId::EmergencyGranted,
    ];

    /// The file name stem and the name in the outbox and the audit.
    pub fn name(self) -> &'static str {
        match self {
            TemplateId::ReplySchoolMailbox => "reply-school-mailbox",
            TemplateId::ReplyUnknownSender => "reply-unknown-sender",
            TemplateId::ReplyNoKey => "reply-no-key",
            TemplateId::ReplyInspectorNotInCopy => "reply-inspector-not-in-copy",
            TemplateId::ReplyUnreadable => "reply-unreadable",
            TemplateId::DeskNewRequest => "desk-new-request",
            TemplateId::KeyReady => "key-ready",
            TemplateId::AugustInvitation => "august-invitation",
            TemplateId::ReturnReminder => "return-reminder",
            TemplateId::OverdueNotice => "overdue-notice",
            TemplateId::SecurityAlert => "security-alert",
            TemplateId::EmergencyGranted => "emergency-granted",
        }
    }

    pub fn from_name(name: &str) -> Option<TemplateId> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }

    fn builtin(self, lang: Lang) -> &'static str {
        use TemplateId::*;
        match (self, lang) {
            (ReplySchoolMailbox, Lang::Fr) => "Subject: Votre demande d'assistance n'a pas été enregistrée\n\nBonjour,\n\nVotre message « {subject} » a été envoyé depuis la boîte fonctionnelle d'un établissement ({sender}). Une demande concernant votre clé OTP n'est acceptée que depuis votre adresse personnelle académique, avec votre inspecteur ou inspectrice de circonscription en copie.\n\nMerci de renvoyer votre demande depuis votre adresse personnelle, en mettant votre IEN en copie.\n\nL'assistance informatique\n",
            (ReplySchoolMailbox, Lang::En) => "Subject: Your help request was not recorded\n\nHello,\n\nYour message \"{subject}\" was sent from a school's functional mailbox ({sender}). A request about your OTP key is accepted only from your personal address in the authority's domain, with your district inspector in copy.\n\nPlease send your request again from your personal address, with your inspector in copy.\n\nThe IT help desk\n",
            (ReplyUnknownSender, Lang::Fr) => "Subject: Votre demande d'assistance n'a pas été enregistrée\n\nBonjour,\n\nL'adresse {sender} n'est pas l'adresse personnelle d'un titulaire de clé OTP. Merci d'écrire depuis l'adresse personnelle académique du titulaire de la clé, avec son inspecteur ou inspectrice de circonscription en copie.\n\nL'assistance informatique\n",
            (ReplyUnknownSender, Lang::En) => "Subject: Your help request was not recorded\n\nHello,\n\nThe address {sender} is not the personal address of an OTP key holder. Please write from the key holder's personal address, with their district inspector in copy.\n\nThe IT help desk\n",
            (ReplyNoKey, Lang::Fr) => "Subject: Votre demande d'assistance n'a pas été enregistrée\n\nBonjour,\n\nAucune clé OTP n'est enregistrée à votre nom : une demande de remplacement ne peut pas être enregistrée. Pour obtenir une première clé, adressez-vous à votre inspecteur ou inspectrice de circonscription.\n\nL'assistance informatique\n",
            (ReplyNoKey, Lang::En) => "Subject: Your help request was not recorded\n\nHello,\n\nNo OTP key is recorded in your name, so a replacement cannot be requested. To get a first key, ask your district inspector.\n\nThe IT help desk\n",
            (ReplyInspectorNotInCopy, Lang::Fr) => "Subject: Votre demande d'assistance n'a pas été enregistrée\n\nBonjour,\n\nVotre message « {subject} » n'a pas en copie l'inspecteur ou l'inspectrice de la circonscription de votre clé ({inspector}). Merci de renvoyer votre demande en mettant {inspector} en copie (Cc).\n\nL'assistance informatique\n",
            (ReplyInspectorNotInCopy, Lang::En) => "Subject: Your help request was not recorded\n\nHello,\n\nYour message \"{subject}\" does not have the inspector of your key's district ({inspector}) in copy. Please send your request again with {inspector} in copy (Cc).\n\nThe IT help desk\n",
            (ReplyUnreadable, Lang::Fr) => "Subject: Votre message n'a pas pu être lu\n\nBonjour,\n\nVotre message n'a pas pu être traité : {problem}. Merci de renvoyer une demande courte, sans pièce jointe volumineuse, depuis votre adresse personnelle académique, avec votre IEN en copie.\n\nL'assistance informatique\n",
            (ReplyUnreadable, Lang::En) => "Subject: Your message could not be read\n\nHello,\n\nYour message could not be processed: {problem}. Please send a short request, without a large attachment, from your personal address, with your inspector in copy.\n\nThe IT help desk\n",
            (DeskNewRequest, Lang::Fr) => "Subject: Nouvelle demande d'assistance n° {request}\n\nUne demande d'assistance a été reçue de {holder} ({sender}), motif : {kind}, clé {token}.\nMessage : {message_id}\n\nkeyward\n",
            (DeskNewRequest, Lang::En) => "Subject: New help request no. {request}\n\nA help request was received from {holder} ({sender}), reason: {kind}, key {token}.\nMessage: {message_id}\n\nkeyward\n",
            (KeyReady, Lang::Fr) => "Subject: Votre nouvelle clé OTP est prête\n\nBonjour,\n\nLa nouvelle clé OTP de {holder} (n° {token}) est prête. Elle est à retirer auprès de l'inspecteur ou de l'inspectrice de circonscription, qui la remettra contre signature d'un bordereau de remise.\n\nL'assistance informatique\n",
            (KeyReady, Lang::En) => "Subject: Your new OTP key is ready\n\nHello,\n\nThe new OTP key of {holder} (no. {token}) is ready. Collect it from the district inspector, who hands it over against a signed handover receipt.\n\nThe IT help desk\n",
            (AugustInvitation, Lang::Fr) => "Subject: Remise de votre clé OTP de direction\n\nBonjour,\n\nVous prenez vos fonctions de direction le {start}. Vous êtes invité(e) à la réunion de remise des clés OTP le {date} à {place}. Munissez-vous d'une pièce d'identité ; vous choisirez votre code PIN sur place.\n\nL'assistance informatique\n",
            (AugustInvitation, Lang::En) => "Subject: Handover of your director's OTP key\n\nHello,\n\nYou take up your director's duties on {start}. You are invited to the OTP key handover meeting on {date} at {place}. Bring an identity document; you will choose your PIN there.\n\nThe IT help desk\n",
            (ReturnReminder, Lang::Fr) => "Subject: Restitution de votre clé OTP avant le {deadline}\n\nBonjour,\n\nVos fonctions de direction prennent fin. La clé OTP n° {token} de {holder} est à restituer à l'inspecteur ou l'inspectrice de circonscription ({inspector}) avant le {deadline}, contre signature d'un bordereau de restitution.\n\nL'assistance informatique\n",
            (ReturnReminder, Lang::En) => "Subject: Return your OTP key before {deadline}\n\nHello,\n\nYour director's duties are ending. OTP key no. {token} of {holder} is to be returned to the district inspector ({inspector}) before {deadline}, against a signed return receipt.\n\nThe IT help desk\n",
            (OverdueNotice, Lang::Fr) => "Subject: Clés OTP non restituées ({district})\n\nBonjour,\n\nLes clés suivantes de votre circonscription auraient dû être restituées avant le {deadline} :\n{list}\n\nkeyward\n",
            (OverdueNotice, Lang::En) => "Subject: OTP keys not returned ({district})\n\nHello,\n\nThese keys of your district were due back before {deadline}:\n{list}\n\nkeyward\n",
            (SecurityAlert, Lang::Fr) => "Subject: Alerte de sécurité sur votre clé OTP\n\nBonjour,\n\nLe {at}, {event} sur votre clé OTP n° {token}. Si ce n'était pas vous, prévenez sans attendre l'assistance informatique et votre inspecteur ou inspectrice.\n\nL'assistance informatique\n",
            (EmergencyGranted, Lang::Fr) => "Subject: Accès de secours ouvert pendant le remplacement de votre clé OTP\n\nBonjour,\n\nUn accès de secours a été ouvert pour {holder} jusqu'au {until}, le temps du remplacement de sa clé OTP. Il prend fin à l'activation de la nouvelle clé. Si vous n'êtes pas à l'origine de la demande, prévenez sans attendre l'assistance informatique et {inspector}.\n\nL'assistance informatique\n",
            (EmergencyGranted, Lang::En) => "Subject: Emergency access opened while your OTP key is replaced\n\nHello,\n\nEmergency access was opened for {holder} until {until}, while their OTP key is replaced. It ends when the new key is activated. If you did not ask for it, tell the IT help desk and {inspector} at once.\n\nThe IT help desk\n",
            (SecurityAlert, Lang::En) => "Subject: Security alert on your OTP key\n\nHello,\n\nOn {at}, {event} on your OTP key no. {token}. If this was not you, tell the IT help desk and your inspector at once.\n\nThe IT help desk\n",
        }
    }
}

/// A template file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template file {0}: the name is not <template>.<fr|en>.txt of a known template")]
    UnknownName(String),
    #[error("template file {0}: it must start with a \"Subject:\" line and a blank line")]
    NoSubject(String),
}

/// A mail ready for the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// The built-in templates and the authority's overrides.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    overrides: HashMap<(TemplateId, Lang), String>,
}

impl Templates {
    /// `files`: (file name, text) of the configured directory's files.
    pub fn with_overrides<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, TemplateError> {
        let mut overrides = HashMap::new();
        for (file, text) in files {
            let unknown = || TemplateError::UnknownName(file.to_owned());
            let stem = file.strip_suffix(".txt").ok_or_else(unknown)?;
            let (id, lang) = stem.rsplit_once('.').ok_or_else(unknown)?;
            let id = TemplateId::from_name(id).ok_or_else(unknown)?;
            let lang = match lang {
                "fr" => Lang::Fr,
                "en" => Lang::En,
                _ => return Err(unknown()),
            };
            split(text).ok_or_else(|| TemplateError::NoSubject(file.to_owned()))?;
            overrides.insert((id, lang), text.replace("\r\n", "\n"));
        }
        Ok(Templates { overrides })
    }

    /// The mail `id` in `lang` with `args` filled in.
    pub fn render(&self, id: TemplateId, lang: Lang, args: &[(&str, &str)]) -> Rendered {
        let text = self
            .overrides
            .get(&(id, lang))
            .map_or(id.builtin(lang), String::as_str);
        let (subject, body) = split(text).unwrap_or(("keyward", text));
        Rendered {
            // A value never breaks the header onto another line.
            subject: fill(subject, args).replace(['\r', '\n'], " "),
            body: fill(body, args),
        }
    }
}

fn split(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("Subject:")?;
    let (subject, body) = rest
        .split_once("\r\n\r\n")
        .or_else(|| rest.split_once("\n\n"))?;
    Some((subject.trim(), body))
}

/// Replaces each `{name}` by its value, in one pass (a value containing
/// `{x}` is not expanded again).
fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_subject_in_both_languages() {
        for id in TemplateId::ALL {
            for lang in [Lang::Fr, Lang::En] {
                assert!(split(id.builtin(lang)).is_some(), "{id:?} {lang:?}");
            }
        }
    }

    #[test]
    fn overrides_replace_the_builtin_text() -> Result<(), TemplateError> {
        let t = Templates::with_overrides([(
            "key-ready.fr.txt",
            "Subject: Clé {token} prête\n\nPassez voir {inspector}.\n",
        )])?;
        let r = t.render(
            TemplateId::KeyReady,
            Lang::Fr,
            &[("token", "T1\r\nBcc: x"), ("inspector", "{token}")],
        );
        assert_eq!(r.subject, "Clé T1  Bcc: x prête");
        assert_eq!(r.body, "Passez voir {token}.\n");
        let en = t.render(TemplateId::KeyReady, Lang::En, &[("token", "T1")]);
        assert!(en.subject.contains("ready"));
        assert!(matches!(
            Templates::with_overrides([("nope.fr.txt", "Subject: x\n\ny")]),
            Err(TemplateError::UnknownName(_))
        ));
        assert!(matches!(
            Templates::with_overrides([("key-ready.en.txt", "no subject")]),
            Err(TemplateError::NoSubject(_))
        ));
        Ok(())
    }
}
