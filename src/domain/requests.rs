//! Help requests for a replacement key (case 3): who may send them.
//!
//! Accepted only from the holder's personal address in the authority's mail
//! domain, never from a school's functional mailbox (`ce.<UAI>@…`, or any
//! address whose local part is a school code), and only with the inspector of
//! the key's district in copy.

use super::people::MailAddress;
use super::uai::Uai;
use super::DomainError;

/// The envelope of a help request as the desk received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpMail {
    pub from: MailAddress,
    pub cc: Vec<MailAddress>,
}

/// Whether a local part names a school rather than a person.
pub fn is_functional_mailbox(address: &MailAddress) -> bool {
    let local = address.local_part();
    let code = local.strip_prefix("ce.").unwrap_or(local);
    local.starts_with("ce.") || Uai::parse(code).is_ok()
}

/// Checks the sender and the copy of a replacement request.
pub fn check_help_mail(
    mail: &HelpMail,
    holder_address: &MailAddress,
    inspector_address: &MailAddress,
    authority_domain: &str,
) -> Result<(), DomainError> {
    if is_functional_mailbox(&mail.from) {
        return Err(DomainError::SchoolMailbox);
    }
    if !mail.from.domain().eq_ignore_ascii_case(authority_domain) {
        return Err(DomainError::SenderOutsideDomain);
    }
    if &mail.from != holder_address {
        return Err(DomainError::SenderIsNotHolder);
    }
    if !mail.cc.iter().any(|cc| cc == inspector_address) {
        return Err(DomainError::InspectorNotInCopy);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::mail;

    #[test]
    fn only_the_holder_with_the_inspector_in_copy() {
        let holder = mail("jeanne.dupont@ac-exemple.fr");
        let inspector = mail("paul.martin@ac-exemple.fr");
        let ok = HelpMail {
            from: holder.clone(),
            cc: vec![mail("x.y@ac-exemple.fr"), inspector.clone()],
        };
        assert_eq!(
            check_help_mail(&ok, &holder, &inspector, "ac-exemple.fr"),
            Ok(())
        );
        let cases = [
            ("ce.0751710B@ac-exemple.fr", DomainError::SchoolMailbox),
            ("0751710b@ac-exemple.fr", DomainError::SchoolMailbox),
            ("jeanne.dupont@gmail.com", DomainError::SenderOutsideDomain),
            ("other.person@ac-exemple.fr", DomainError::SenderIsNotHolder),
        ];
        for (from, err) in cases {
            let mail = HelpMail {
                from: mail(from),
                cc: vec![inspector.clone()],
            };
            assert_eq!(
                check_help_mail(&mail, &holder, &inspector, "ac-exemple.fr"),
                Err(err)
            );
        }
        let no_cc = HelpMail {
            from: holder.clone(),
            cc: vec![],
        };
        assert_eq!(
            check_help_mail(&no_cc, &holder, &inspector, "ac-exemple.fr"),
            Err(DomainError::InspectorNotInCopy)
        );
    }
}
