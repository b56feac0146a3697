//! The outbox's sender: SMTP with STARTTLS (or implicit TLS), `lettre`'s
//! blocking transport, trusting the configured CA besides the public roots.
//! Errors are reduced to a class: a server's words can echo a credential.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::config::{Server, TlsMode};
use crate::domain::MailAddress;
use crate::store::ops::OutboxMail;

/// Why a mail was not sent (stored in `outbox.last_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the SMTP server could not be reached or refused the connection")]
    Unreachable,
    #[error("the SMTP server refused the mail")]
    Refused,
    #[error("the mail could not be built (bad address)")]
    BadMail,
    #[error("the SMTP settings cannot be used (CA file, password file)")]
    Settings,
}

impl SendError {
    pub fn as_str(self) -> &'static str {
        match self {
            SendError::Unreachable => "unreachable",
            SendError::Refused => "refused",
            SendError::BadMail => "bad-mail",
            SendError::Settings => "settings",
        }
    }
}

/// A connection recipe for the configured server.
#[derive(Debug)]
pub struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Smtp {
    pub fn new(server: &Server, from: &MailAddress) -> Result<Smtp, SendError> {
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(ca) = &server.ca_file {
            let pem = std::fs::read(ca).map_err(|_| SendError::Settings)?;
            let cert = Certificate::from_pem(&pem).map_err(|_| SendError::Settings)?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build_rustls().map_err(|_| SendError::Settings)?;
        let tls = match server.tls {
            TlsMode::StartTls => Tls::Required(tls),
            TlsMode::Implicit => Tls::Wrapper(tls),
        };
        let mut builder = SmtpTransport::builder_dangerous(server.host.as_str())
            .port(server.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(file)) = (&server.username, &server.password_file) {
            let password = std::fs::read_to_string(file).map_err(|_| SendError::Settings)?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.trim_end().to_owned(),
            ));
        }
        let from = from.as_str().parse().map_err(|_| SendError::Settings)?;
        Ok(Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one outbox mail (blocking).
    pub fn send(&self, mail: &OutboxMail) -> Result<(), SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}>", mail.message_id)))
            .header(ContentType::TEXT_PLAIN);
        for to in &mail.recipients {
            builder = builder.to(to.parse().map_err(|_| SendError::BadMail)?);
        }
        let message = builder
            .body(mail.body.clone())
            .map_err(|_| SendError::BadMail)?;
        match self.transport.send(&message) {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(SendError::Refused),
            Err(_) => Err(SendError::Unreachable),
        }
    }
}
