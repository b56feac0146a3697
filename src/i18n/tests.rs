//! The catalogue agrees with itself and with the code: both languages hold
//! the same messages with the same arguments, both files parse whole, and
//! every message id the code names exists.

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast;

use super::*;

/// Messages whose English text leaves out an argument the French one uses:
/// an API refusal's gloss of its code, which English readers get from the
/// server's own (English) words.
const ENGLISH_LEAVES_OUT: &[&str] = &["api-error", "api-error-field"];

/// Every message of a file with the arguments (`$name`) its text uses.
fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let resource = match fluent_syntax::parser::parse(lang.source()) {
        Ok(resource) => resource,
        Err((_, errors)) => panic!("{} does not parse: {errors:?}", lang.code()),
    };
    let mut out = BTreeMap::new();
    for entry in resource.body {
        if let ast::Entry::Message(message) = entry {
            let mut args = BTreeSet::new();
            if let Some(pattern) = &message.value {
                pattern_args(pattern, &mut args);
            }
            let id = message.id.name.to_owned();
            assert!(
                out.insert(id.clone(), args).is_none(),
                "{id} twice in {}",
                lang.code()
            );
        }
    }
    out
}

fn pattern_args(pattern: &ast::Pattern<&str>, args: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_args(expression, args);
        }
    }
}

fn expression_args(expression: &ast::Expression<&str>, args: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_args(selector, args);
            for variant in variants {
                pattern_args(&variant.value, args);
            }
        }
        ast::Expression::Inline(inline) => inline_args(inline, args),
    }
}

fn inline_args(inline: &ast::InlineExpression<&str>, args: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            args.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_args(expression, args),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for arg in &arguments.positional {
                inline_args(arg, args);
            }
        }
        _ => {}
    }
}

#[test]
fn every_message_exists_in_both_languages_with_the_same_arguments() {
    let fr = messages(Lang::Fr);
    let en = messages(Lang::En);
    let only_fr: Vec<_> = fr.keys().filter(|id| !en.contains_key(*id)).collect();
    let only_en: Vec<_> = en.keys().filter(|id| !fr.contains_key(*id)).collect();
    assert!(only_fr.is_empty(), "only in fr.ftl: {only_fr:?}");
    assert!(only_en.is_empty(), "only in en.ftl: {only_en:?}");
    for (id, args) in &fr {
        let Some(en_args) = en.get(id) else { continue };
        if ENGLISH_LEAVES_OUT.contains(&id.as_str()) {
            assert!(en_args.is_subset(args), "arguments of {id}");
        } else {
            assert_eq!(args, en_args, "arguments of {id} differ");
        }
    }
    assert!(fr.len() > 100, "the catalogue lost its messages");
}

/// A message named in the code: its id, the file, and the names of the
/// arguments the call gives.
type Named = (String, String, BTreeSet<String>);

/// The messages the code names through `t!`/`tr!` (a literal after the
/// macro's opening), in every file under `src/`.
fn named_in_source() -> Vec<Named> {
    fn walk(dir: &std::path::Path, out: &mut Vec<Named>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("i18n/tests.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("t!(") {
                    // Not in a comment (docs show the macro with sample ids).
                    let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
                    if text[line_start..i].contains("//") {
                        continue;
                    }
                    // The macro's name: the identifier that ends with this `t`.
                    let name_start = text[..=i]
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |p| p + 1);
                    let rest = &text[i + 3..];
                    let rest = match &text[name_start..=i] {
                        "t" => rest,
                        // `tr!(lang, "id"`: skip the language.
                        "tr" => match rest.split_once(',') {
                            Some((_, r)) => r,
                            None => continue,
                        },
                        _ => continue,
                    };
                    let rest = rest.trim_start();
                    if let Some(literal) = rest.strip_prefix('"') {
                        if let Some((id, after)) = literal.split_once('"') {
                            let file = path.display().to_string();
                            out.push((id.to_owned(), file, argument_names(after)));
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    out
}

/// The `name = value` arguments of a macro call, read from just after its
/// id to its closing parenthesis (strings and nested brackets skipped).
fn argument_names(after_id: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut depth = 0usize;
    let mut segment = String::new();
    let mut chars = after_id.chars();
    let mut finish = |segment: &mut String| {
        if let Some((name, value)) = segment.split_once('=') {
            let name = name.trim();
            if !value.starts_with('=')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                names.insert(name.to_owned());
            }
        }
        segment.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // Skip a string literal, escapes included.
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                segment.push('"');
            }
            '(' | '[' | '{' => {
                depth += 1;
                segment.push(c);
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => {
                depth -= 1;
                segment.push(c);
            }
            ',' if depth == 0 => finish(&mut segment),
            c => segment.push(c),
        }
    }
    finish(&mut segment);
    names
}

#[test]
fn every_id_the_code_names_is_in_the_catalogue_with_its_arguments() {
    let named = named_in_source();
    assert!(named.len() > 100, "the scan found too few ids: {named:?}");
    // French uses every argument (see ENGLISH_LEAVES_OUT).
    let fr = messages(Lang::Fr);
    for lang in Lang::ALL {
        let missing: Vec<_> = named.iter().filter(|(id, ..)| !has(lang, id)).collect();
        assert!(
            missing.is_empty(),
            "not in {}.ftl: {missing:?}",
            lang.code()
        );
    }
    // Both files take the same arguments (above); the calls give them.
    for (id, file, given) in &named {
        assert_eq!(
            Some(given),
            fr.get(id),
            "{file}: the call of {id} gives other arguments than the message takes"
        );
    }
}

#[test]
fn messages_take_their_arguments_and_plurals() {
    assert_eq!(
        tr!(Lang::Fr, "audit-ok", entries = 1u64, head = "ab"),
        "audit : intègre, 1 entrée, tête ab"
    );
    assert_eq!(
        tr!(Lang::En, "audit-ok", entries = 2u64, head = "ab"),
        "audit: ok, 2 entries, head ab"
    );
    // An unknown id shows as itself rather than failing.
    assert_eq!(text(Lang::Fr, "no-such-message", &[]), "no-such-message");
}

#[test]
fn times_are_shown_in_the_zone_and_the_language() {
    let martinique = TimeZone::get("America/Martinique").unwrap();
    // 2026-12-01T01:05:00Z is 21:05 the evening before in Martinique (UTC-4).
    let time = 1_796_087_100;
    assert_eq!(
        date_time(Lang::Fr, time, &martinique),
        "30/11/2026 21:05 (America/Martinique)"
    );
    assert_eq!(
        date_time(Lang::En, time, &martinique),
        "2026-11-30 21:05 (America/Martinique)"
    );
    assert_eq!(
        date_time(Lang::Fr, time, &TimeZone::UTC),
        "01/12/2026 01:05 (UTC)"
    );
    assert_eq!(date_text(Lang::Fr, "2027-07-06"), "06/07/2027");
    assert_eq!(date_text(Lang::En, "2027-07-06"), "2027-07-06");
    assert_eq!(date_text(Lang::Fr, "not a date"), "not a date");
}
