use super::*;

#[test]
fn reads_borrowed_fields_and_counts_members() {
    let f = read_fields(
        r#"{"CreationTime":"2026-01-01T00:00:00","RecordType":"25","UserType":2,"ClientIP":null,"ResultStatus":"Succeeded","X":{"a":[1,2]},"_o365":1}"#,
    )
    .unwrap();
    assert_eq!(f.members, 7);
    assert!(f.has_reserved);
    assert!(matches!(
        f.creation_time,
        Some(Scalar::Str(Cow::Borrowed("2026-01-01T00:00:00")))
    ));
    assert_eq!(f.record_type.unwrap().lenient_int(), Some(25));
    assert_eq!(f.user_type.unwrap().lenient_int(), Some(2));
    assert_eq!(f.client_ip, Some(Scalar::Null));
    assert_eq!(f.result_status.unwrap().as_str(), Some("Succeeded"));
}

#[test]
fn wrong_types_do_not_fail_and_duplicates_take_the_last() {
    let f = read_fields(r#"{"CreationTime":[1],"RecordType":{"a":1},"UserType":1.5,"UserType":3,"ClientIP":"a\"b"}"#)
        .unwrap();
    assert_eq!(f.creation_time, Some(Scalar::Other));
    assert_eq!(f.record_type.unwrap().lenient_int(), None);
    assert_eq!(f.user_type.unwrap().lenient_int(), Some(3));
    assert_eq!(f.client_ip.unwrap().as_str(), Some("a\"b"));
    assert_eq!(read_fields("{}").unwrap().members, 0);
}

#[test]
fn invalid_json_is_an_error() {
    for bad in [
        "{",
        r#"{"a":}"#,
        r#"{"a":1,}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":"\x"}"#,
        "{\"a\":\"\u{1}\"}",
        r#"{"a":01}"#,
        r#"{"a":tru}"#,
        r#"{"a":1]"#,
        r#"{"a":1} x"#,
        "[1]",
    ] {
        assert!(read_fields(bad).is_err(), "{bad}");
    }
}

/// `(client_ip, client_port)` and outcome of a record text.
fn norm(text: &str) -> (Option<(String, Option<u16>)>, Option<&'static str>) {
    let f = read_fields(text).unwrap();
    (
        f.client_addr().map(|a| (a.ip.to_string(), a.port)),
        f.outcome().map(Outcome::as_str),
    )
}

#[test]
fn client_address_from_every_member_in_order() {
    let ip = |t: &str| norm(t).0;
    let some = |i: &str, p: Option<u16>| Some((i.to_owned(), p));
    assert_eq!(ip(r#"{"ClientIP":"192.0.2.1"}"#), some("192.0.2.1", None));
    assert_eq!(
        ip(r#"{"ClientIp":"192.0.2.1:80"}"#),
        some("192.0.2.1", Some(80))
    );
    assert_eq!(
        ip(r#"{"ClientIPAddress":"[192.0.2.1]:1234"}"#),
        some("192.0.2.1", Some(1234))
    );
    assert_eq!(
        ip(r#"{"ActorIpAddress":"[2001:db8::5]:443"}"#),
        some("2001:db8::5", Some(443))
    );
    assert_eq!(
        ip(
            r#"{"ExtendedProperties":[{"Name":"UserAgent","Value":"x"},{"Value":"::ffff:192.0.2.9","Name":"ipAddress"}]}"#
        ),
        some("192.0.2.9", None)
    );
    // Precedence: ClientIP, ClientIp, ClientIPAddress, ActorIpAddress, ExtendedProperties,
    // whatever the order of the members in the record.
    assert_eq!(
        ip(
            r#"{"ExtendedProperties":[{"Name":"ClientIP","Value":"192.0.2.5"}],"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3","ClientIp":"192.0.2.2","ClientIP":"192.0.2.1"}"#
        ),
        some("192.0.2.1", None)
    );
    assert_eq!(
        ip(
            r#"{"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3","ClientIp":"192.0.2.2"}"#
        ),
        some("192.0.2.2", None)
    );
    assert_eq!(
        ip(r#"{"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3"}"#),
        some("192.0.2.3", None)
    );
    // Empty, placeholder, null and unreadable values are passed over.
    assert_eq!(
        ip(
            r#"{"ClientIP":"","ClientIp":"<null>","ClientIPAddress":null,"ActorIpAddress":"proxy.example","ExtendedProperties":[{"Name":"ClientIP","Value":"[2001:db8::7]"}]}"#
        ),
        some("2001:db8::7", None)
    );
    assert_eq!(ip(r#"{"ClientIP":"","ActorIpAddress":"<null>"}"#), None);
    assert_eq!(
        ip(
            r#"{"ExtendedProperties":[{"Name":"UserAgent","Value":"192.0.2.1"},{"Name":"ClientIP","Value":7},{"Name":"ClientIP"}]}"#
        ),
        None
    );
    for odd in [
        r#"{"ExtendedProperties":{"Name":"ClientIP","Value":"192.0.2.1"}}"#,
        r#"{"ExtendedProperties":"192.0.2.1"}"#,
        r#"{"ExtendedProperties":[1,"a",null,[{"Name":"ClientIP","Value":"192.0.2.1"}]]}"#,
    ] {
        assert_eq!(ip(odd), None, "{odd}");
    }
}

#[test]
fn outcome_from_every_signal() {
    let out = |t: &str| norm(t).1;
    assert_eq!(out(r#"{"ResultStatus":"True"}"#), Some("success"));
    assert_eq!(out(r#"{"ResultStatus":"Failed"}"#), Some("failure"));
    assert_eq!(out(r#"{"Operation":"UserLoginFailed"}"#), Some("failure"));
    assert_eq!(
        out(r#"{"Operation":"UserLoginFailed","ResultStatus":"Succeeded","LogonError":"None"}"#),
        Some("failure")
    );
    assert_eq!(
        out(
            r#"{"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"InvalidUserNameOrPassword"}"#
        ),
        Some("failure")
    );
    assert_eq!(
        out(r#"{"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"None"}"#),
        Some("success")
    );
    assert_eq!(out(r#"{"LogonError":"None"}"#), Some("success"));
    assert_eq!(
        out(r#"{"LogonError":"","ResultStatus":"InProgress"}"#),
        Some("unknown")
    );
    assert_eq!(out(r#"{"LogonError":null,"Operation":7}"#), None);
    assert_eq!(out(r#"{"Operation":"FileAccessed"}"#), None);
}

/// The workload-by-workload table of the README ("Output lines"), one row per case.
#[test]
fn outcome_table_by_workload() {
    let out = |t: &str| norm(t).1;
    for (workload, record, want) in [
        (
            "Exchange admin",
            r#"{"Workload":"Exchange","RecordType":1,"Operation":"Set-Mailbox","ResultStatus":"True"}"#,
            Some("success"),
        ),
        (
            "Exchange admin",
            r#"{"Workload":"Exchange","RecordType":1,"Operation":"Set-Mailbox","ResultStatus":"False"}"#,
            Some("failure"),
        ),
        (
            "Exchange mailbox",
            r#"{"Workload":"Exchange","RecordType":2,"Operation":"MailItemsAccessed","ResultStatus":"Succeeded"}"#,
            Some("success"),
        ),
        (
            "Exchange mailbox",
            r#"{"Workload":"Exchange","RecordType":3,"Operation":"MoveToDeletedItems","ResultStatus":"PartiallySucceeded"}"#,
            Some("partial"),
        ),
        (
            "SharePoint / OneDrive",
            r#"{"Workload":"SharePoint","RecordType":6,"Operation":"FileAccessed"}"#,
            None,
        ),
        (
            "Entra directory",
            r#"{"Workload":"AzureActiveDirectory","RecordType":8,"Operation":"Update user.","ResultStatus":"Success"}"#,
            Some("success"),
        ),
        (
            "Entra directory",
            r#"{"Workload":"AzureActiveDirectory","RecordType":8,"Operation":"Add member to group.","ResultStatus":"Failure"}"#,
            Some("failure"),
        ),
        (
            "Entra sign-in",
            r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded"}"#,
            Some("success"),
        ),
        (
            "Entra sign-in",
            r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"None"}"#,
            Some("success"),
        ),
        (
            "Entra sign-in",
            r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoginFailed","ResultStatus":"Succeeded","LogonError":"InvalidUserNameOrPassword"}"#,
            Some("failure"),
        ),
        (
            "Entra sign-in",
            r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoginFailed","ResultStatus":"Succeeded"}"#,
            Some("failure"),
        ),
        (
            "Entra sign-in",
            r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"UserStrongAuthClientAuthNRequiredInterrupt"}"#,
            Some("failure"),
        ),
        (
            "Teams",
            r#"{"Workload":"MicrosoftTeams","RecordType":25,"Operation":"MemberAdded"}"#,
            None,
        ),
        (
            "DLP",
            r#"{"Workload":"Exchange","RecordType":13,"Operation":"DlpRuleMatch"}"#,
            None,
        ),
        (
            "any",
            r#"{"Operation":"X","ResultStatus":"InProgress"}"#,
            Some("unknown"),
        ),
        (
            "any",
            r#"{"Operation":"X","ResultStatus":true}"#,
            Some("success"),
        ),
        (
            "any",
            r#"{"Operation":"X","ResultStatus":0}"#,
            Some("unknown"),
        ),
    ] {
        assert_eq!(out(record), want, "{workload}: {record}");
    }
}
