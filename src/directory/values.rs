//! The academic directory's attribute values (`docs/directory.md`,
//! ACADEMY.md §1), parsed sans-io: text in, typed values or a typed error
//! out. Nothing here guesses: a value that does not read exactly as the
//! directory writes it is refused with what was wrong.

use crate::domain::{Date, PersonId, Uai};

/// Why one attribute value was refused. Messages quote the value's shape,
/// never more than the value itself (directory data holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("school code {value:?}: {why}")]
    Uai { value: String, why: String },
    #[error("date {value:?}: expected DD/MM/YYYY")]
    Date { value: String },
    #[error("delegation {value:?}: {why}")]
    Delegation { value: String, why: &'static str },
    #[error("login {value:?}: not a valid login")]
    Login { value: String },
}

/// `FrEduFonctAdm`: what keyward makes of a person's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// `DIR`: a school director.
    Director,
    /// `IEN1D`: a first-degree district inspector.
    Inspector,
    /// Anything else (ignored for rights).
    Other,
}

impl Function {
    pub fn parse(value: &str) -> Function {
        match value.trim() {
            "DIR" => Function::Director,
            "IEN1D" => Function::Inspector,
            _ => Function::Other,
        }
    }
}

/// A school code with its check letter verified.
pub fn uai(value: &str) -> Result<Uai, ValueError> {
    Uai::parse(value).map_err(|err| ValueError::Uai {
        value: value.to_owned(),
        why: err.to_string(),
    })
}

/// `FrEduRneResp` / `FrEduRne`: `UAI$type$…`; the school is the first field.
pub fn school_of(value: &str) -> Result<Uai, ValueError> {
    uai(value.split('$').next().unwrap_or_default())
}

/// A directory date: `DD/MM/YYYY`, where `31/12/9999` means "no end"
/// (`None`). LDAP generalized time (`YYYYMMDDhhmmssZ`) is read as its day.
pub fn date(value: &str) -> Result<Option<Date>, ValueError> {
    let text = value.trim();
    let bad = || ValueError::Date {
        value: value.to_owned(),
    };
    if text == "31/12/9999" {
        return Ok(None);
    }
    let number = |s: &str| -> Result<u32, ValueError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (day, month, year) = match text.split('/').collect::<Vec<_>>().as_slice() {
        [d, m, y] if d.len() == 2 && m.len() == 2 && y.len() == 4 => {
            (number(d)?, number(m)?, number(y)?)
        }
        _ if text.len() >= 8
            && text.is_char_boundary(8)
            && text[..8].bytes().all(|b| b.is_ascii_digit()) =>
        {
            (
                number(&text[6..8])?,
                number(&text[4..6])?,
                number(&text[..4])?,
            )
        }
        _ => return Err(bad()),
    };
    if year == 9999 {
        return Ok(None);
    }
    let year = i32::try_from(year).map_err(|_| bad())?;
    let month = u8::try_from(month).map_err(|_| bad())?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    Date::new(year, month, day).map(Some).map_err(|_| bad())
}

/// One `FrEduResDel` value: a dated delegation of a school's rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationValue {
    pub application: String,
    pub from: Date,
    /// Last day included; `None` for `31/12/9999`.
    pub until: Option<Date>,
    pub delegator: PersonId,
    pub school: Uai,
}

/// `application|url|start|end|delegator|FrEduRneResp=UAI$…|server||`.
pub fn delegation(value: &str) -> Result<DelegationValue, ValueError> {
    let bad = |why| ValueError::Delegation {
        value: value.to_owned(),
        why,
    };
    let fields: Vec<&str> = value.split('|').collect();
    if fields.len() < 6 {
        return Err(bad(
            "expected application|url|start|end|delegator|FrEduRneResp=…",
        ));
    }
    let application = fields[0].trim();
    if application.is_empty() {
        return Err(bad("no application"));
    }
    let from = date(fields[2])?.ok_or_else(|| bad("a delegation must have a start date"))?;
    let until = date(fields[3])?;
    if until.is_some_and(|u| u < from) {
        return Err(bad("ends before it starts"));
    }
    let delegator = PersonId::parse(fields[4].trim()).map_err(|_| ValueError::Login {
        value: fields[4].to_owned(),
    })?;
    let resp = fields[5].trim();
    let resp = resp
        .strip_prefix("FrEduRneResp=")
        .ok_or_else(|| bad("the sixth field must be FrEduRneResp=UAI$…"))?;
    Ok(DelegationValue {
        application: application.to_owned(),
        from,
        until,
        delegator,
        school: school_of(resp)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn functions() {
        for (text, f) in [
            ("DIR", Function::Director),
            (" IEN1D ", Function::Inspector),
            ("ENS", Function::Other),
            ("dir", Function::Other),
            ("", Function::Other),
        ] {
            assert_eq!(Function::parse(text), f, "{text}");
        }
    }

    #[test]
    fn dates() {
        for (text, want) in [
            ("01/09/2026", Ok(Some(day("2026-09-01")))),
            ("31/12/9999", Ok(None)),
            ("20260901000000Z", Ok(Some(day("2026-09-01")))),
            ("99991231000000Z", Ok(None)),
            ("31/02/2026", Err(())),
            ("1/9/2026", Err(())),
            ("2026-09-01", Err(())),
            ("", Err(())),
            ("aa/bb/cccc", Err(())),
            ("+1/09/2026", Err(())),
        ] {
            assert_eq!(date(text).map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn schools() {
        assert_eq!(
            school_of("0751710B$UAJ$PU$N$T3$LP$320").map(|u| u.to_string()),
            Ok("0751710B".to_owned())
        );
        for bad in ["0751710C$UAJ", "", "$0751710B", "075171B$x"] {
            assert!(
                matches!(school_of(bad), Err(ValueError::Uai { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn delegations() {
        let good = "keyward|https://x|01/10/2026|31/12/9999|pmartin|FrEduRneResp=0751710B$UAJ$PU$N$T3$LP$320|srv||";
        let d = delegation(good).unwrap();
        assert_eq!(d.application, "keyward");
        assert_eq!(d.from, day("2026-10-01"));
        assert_eq!(d.until, None);
        assert_eq!(d.delegator.as_str(), "pmartin");
        assert_eq!(d.school.as_str(), "0751710B");
        let dated = good.replace("31/12/9999", "20/10/2026");
        assert_eq!(delegation(&dated).unwrap().until, Some(day("2026-10-20")));
        for (bad, what) in [
            ("keyward|u|01/10/2026", "fields"),
            ("keyward|u|bad|31/12/9999|p|FrEduRneResp=0751710B$", "date"),
            (
                "keyward|u|31/12/9999|31/12/9999|p|FrEduRneResp=0751710B$",
                "start",
            ),
            (
                "keyward|u|02/10/2026|01/10/2026|p|FrEduRneResp=0751710B$",
                "order",
            ),
            (
                "keyward|u|01/10/2026|31/12/9999|p m|FrEduRneResp=0751710B$",
                "login",
            ),
            ("keyward|u|01/10/2026|31/12/9999|p|0751710B$", "prefix"),
            (
                "keyward|u|01/10/2026|31/12/9999|p|FrEduRneResp=0751710C$",
                "check letter",
            ),
            (
                "|u|01/10/2026|31/12/9999|p|FrEduRneResp=0751710B$",
                "application",
            ),
        ] {
            assert!(delegation(bad).is_err(), "{what}");
        }
    }
}
