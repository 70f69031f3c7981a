use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn matcher(text: &str) -> Matcher {
    match Matcher::parse(text) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn parse_forms() {
    fn check(text: &str, name: &str, op: MatchOp, value: &str) {
        let m = matcher(text);
        assert_eq!((m.name(), m.op(), m.value()), (name, op, value), "{text}");
    }
    check(
        r#"severity="critical""#,
        "severity",
        MatchOp::Equal,
        "critical",
    );
    check("severity=critical", "severity", MatchOp::Equal, "critical");
    check(r#" env != "prod" "#, "env", MatchOp::NotEqual, "prod");
    check(r#"team=~"db|infra""#, "team", MatchOp::Regex, "db|infra");
    check("team!~db.*", "team", MatchOp::NotRegex, "db.*");
    check(r#"x="""#, "x", MatchOp::Equal, "");
    check("x=", "x", MatchOp::Equal, "");
    check(
        r#"msg="say \"hi\", a\\b""#,
        "msg",
        MatchOp::Equal,
        r#"say "hi", a\b"#,
    );
    check(r#"n=~"\d+""#, "n", MatchOp::Regex, r"\d+");
    check(r#"v="a=b""#, "v", MatchOp::Equal, "a=b");
    check(
        "__alert_rule_uid__=abc",
        "__alert_rule_uid__",
        MatchOp::Equal,
        "abc",
    );
}

#[test]
fn parse_errors() {
    fn check(text: &str, reason_part: &str) {
        match Matcher::parse(text) {
            Ok(m) => panic!("{text:?} parsed as {m}"),
            Err(e) => {
                assert_eq!(e.input, text);
                assert!(e.reason.contains(reason_part), "{text:?}: {e}");
            }
        }
    }
    check("severity", "no operator");
    check("severity!critical", "no operator");
    check(r#"="x""#, "invalid label name");
    check(r#"my label="x""#, "invalid label name");
    check(r#"a="unterminated"#, "unterminated");
    check(r#"a="x"y"#, "unterminated");
    check(r#"a=~"(unclosed""#, "regex parse error");
    check(r#"a!~"[z-a]""#, "regex parse error");
}

#[test]
fn each_operator() {
    fn check(text: &str, set: &[(&str, &str)], expected: bool) {
        assert_eq!(
            matcher(text).matches(&labels(set)),
            expected,
            "{text} on {set:?}"
        );
    }
    let crit = [("severity", "critical"), ("team", "db")];
    check(r#"severity="critical""#, &crit, true);
    check(r#"severity="warning""#, &crit, false);
    check(r#"severity!="warning""#, &crit, true);
    check(r#"severity!="critical""#, &crit, false);
    check(r#"team=~"db|infra""#, &crit, true);
    check(r#"team=~"web|infra""#, &crit, false);
    check(r#"team!~"web|infra""#, &crit, true);
    check(r#"team!~"d.""#, &crit, false);
}

#[test]
fn regex_is_fully_anchored() {
    fn check(text: &str, value: &str, expected: bool) {
        assert_eq!(
            matcher(text).matches(&labels(&[("l", value)])),
            expected,
            "{text} on {value:?}"
        );
    }
    check(r#"l=~"db""#, "db", true);
    check(r#"l=~"db""#, "mydb", false);
    check(r#"l=~"db""#, "db2", false);
    check(r#"l=~"a|b""#, "a", true);
    check(r#"l=~"a|b""#, "ab", false);
    check(r#"l=~"db.*""#, "db-primary", true);
    check(r#"l!~"db""#, "mydb", true);
    check(r#"l=~"(?i)DB""#, "db", true);
}

#[test]
fn missing_label_is_empty_string() {
    fn check(text: &str, expected: bool) {
        assert_eq!(
            matcher(text).matches(&labels(&[("other", "x")])),
            expected,
            "{text}"
        );
    }
    check(r#"team="""#, true);
    check(r#"team!="""#, false);
    check(r#"team="db""#, false);
    check(r#"team!="db""#, true);
    check(r#"team=~".*""#, true);
    check(r#"team=~".+""#, false);
    check(r#"team!~".+""#, true);
}

#[test]
fn display_round_trips() {
    for text in [
        r#"a="b""#,
        r#"a!~"x|\"y\"""#,
        "a=~\"line\\nbreak\"",
        r#"a!="back\\slash""#,
    ] {
        let m = matcher(text);
        assert_eq!(
            Matcher::parse(&m.to_string()),
            Ok(m.clone()),
            "{text} → {m}"
        );
    }
    assert_eq!(matcher("a=b").to_string(), r#"a="b""#);
}

#[test]
fn matcher_lists() {
    fn check(text: &str, expected: &[&str]) {
        let got: Result<Vec<String>, _> =
            parse_matchers(text).map(|ms| ms.iter().map(ToString::to_string).collect());
        let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, Ok(want), "{text}");
    }
    check(
        r#"{severity="critical", team=~"db|infra"}"#,
        &[r#"severity="critical""#, r#"team=~"db|infra""#],
    );
    check(r#"a="x,y",b=c"#, &[r#"a="x,y""#, r#"b="c""#]);
    check(r#"a="q\",r""#, &[r#"a="q\",r""#]);
    check("{}", &[]);
    check("", &[]);
    check("a=1,", &[r#"a="1""#]);
    assert!(parse_matchers("{a=1, b}").is_err());
}

#[test]
fn first_match_respects_order() {
    let route = |text: &str, target: &'static str| Route {
        matchers: parse_matchers(text).unwrap_or_default(),
        target,
    };
    let routes = vec![
        route(r#"severity="critical", team="db""#, "db-critical"),
        route(r#"team="db""#, "db"),
        route(r#"team=~"web|api""#, "frontend"),
        route("", "catch-all"),
    ];
    fn check(routes: &[Route<&'static str>], set: &[(&str, &str)], expected: Option<&str>) {
        assert_eq!(
            first_match(routes, &labels(set)).copied(),
            expected,
            "{set:?}"
        );
    }
    check(
        &routes,
        &[("severity", "critical"), ("team", "db")],
        Some("db-critical"),
    );
    check(
        &routes,
        &[("severity", "warning"), ("team", "db")],
        Some("db"),
    );
    check(&routes, &[("team", "api")], Some("frontend"));
    check(&routes, &[("team", "ops")], Some("catch-all"));
    check(&routes[..3], &[("team", "ops")], None);
    check(&[], &[("team", "db")], None);
    assert_eq!(routes[0].matchers.len(), 2, "the list parsed");
}
