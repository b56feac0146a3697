//! Who really sent a message, decided from the `Authentication-Results`
//! header that the authority's own mail server added (RFC 8601), when the
//! authority chose that way rather than DKIM verification here (`dkim`).
//!
//! Only the topmost `Authentication-Results` header counts, and only when
//! it carries the configured authserv-id: the authority's server adds it
//! last and removes any copy of its own id arriving from outside, so a
//! lower header could have been written by anyone.

/// The outcome of sender authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthVerdict {
    /// A valid DKIM signature (or DMARC pass) of the authority's domain.
    Pass,
    /// No header of our server, or no DKIM pass for the authority's domain.
    NotAuthenticated,
}

/// Reads the topmost `Authentication-Results` value (`results`, top first).
pub fn from_auth_results(results: &[String], authserv_id: &str, domain: &str) -> AuthVerdict {
    let Some(top) = results.first() else {
        return AuthVerdict::NotAuthenticated;
    };
    let clean = strip_comments(top);
    let mut parts = clean.split(';');
    let server = parts
        .next()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default();
    if !server.eq_ignore_ascii_case(authserv_id) {
        return AuthVerdict::NotAuthenticated;
    }
    for part in parts {
        let mut words = part.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let props: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let domain_of = |key: &str| {
            props
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.trim_matches('"').rsplit('@').next().unwrap_or_default())
        };
        let pass = result.eq_ignore_ascii_case("pass");
        let ours = |d: Option<&str>| d.is_some_and(|d| d.eq_ignore_ascii_case(domain));
        if pass
            && ((method.eq_ignore_ascii_case("dkim")
                && (ours(domain_of("header.d")) || ours(domain_of("header.i"))))
                || (method.eq_ignore_ascii_case("dmarc") && ours(domain_of("header.from"))))
        {
            return AuthVerdict::Pass;
        }
    }
    AuthVerdict::NotAuthenticated
}

/// Removes RFC 5322 comments (nested parentheses), outside quoted strings.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(headers: &[&str]) -> AuthVerdict {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        from_auth_results(&headers, "mx.ac-exemple.fr", "ac-exemple.fr")
    }

    #[test]
    fn only_our_servers_top_header_with_a_pass_for_our_domain() {
        use AuthVerdict::*;
        let ok = "mx.ac-exemple.fr; spf=pass smtp.mailfrom=ac-exemple.fr; \
                  dkim=pass (2048-bit key) header.d=ac-exemple.fr header.s=sel";
        assert_eq!(verdict(&[ok]), Pass);
        assert_eq!(
            verdict(&["mx.ac-exemple.fr 1; dmarc=pass header.from=ac-exemple.fr"]),
            Pass
        );
        assert_eq!(verdict(&[]), NotAuthenticated);
        // Another server's header, even saying pass.
        assert_eq!(
            verdict(&["mx.evil.example; dkim=pass header.d=ac-exemple.fr"]),
            NotAuthenticated
        );
        // Ours below someone else's: the top one decides.
        assert_eq!(verdict(&["mx.evil.example; none", ok]), NotAuthenticated);
        // A pass for another domain, a failure, a pass hidden in a comment.
        for h in [
            "mx.ac-exemple.fr; dkim=pass header.d=gmail.com",
            "mx.ac-exemple.fr; dkim=fail header.d=ac-exemple.fr",
            "mx.ac-exemple.fr; dkim=none (dkim=pass header.d=ac-exemple.fr)",
        ] {
            assert_eq!(verdict(&[h]), NotAuthenticated, "{h}");
        }
    }
}
