//! JSON paths on `[BODY]`, `len()` and `has()`, and numeric versus string comparison of JSON values.

use super::{fails, passes, with_body};
use crate::Observation;

const USER: &str = r#"{"status":"UP","user":{"name":"Alice","age":31},"data":[{"id":7},{"id":8}],
    "a":[[0,1],[2,3,4]],"empty":[],"nothing":null,"flag":true,"obj":{"k":1,"l":[1,2]},"héllo":"wörld"}"#;

#[test]
fn simple_and_nested_keys() {
    let body = with_body(USER);
    assert_eq!(
        passes("[BODY].status == UP", &body),
        "[BODY].status (UP) == UP"
    );
    fails("[BODY].status == up", &body);
    passes("[BODY].user.name == Alice", &body);
    passes("[BODY].user.age >= 18", &body);
    passes("[BODY].flag == true", &body);
    passes("[BODY].héllo == wörld", &body);
    passes(r#"[BODY].obj == {"k":1,"l":[1,2]}"#, &body);
    passes("[body].status == UP", &body);
}

#[test]
fn array_indexes_and_nested_arrays() {
    let body = with_body(USER);
    passes("[BODY].data[0].id == 7", &body);
    passes("[BODY].data[1].id == 8", &body);
    passes("[BODY].a[1][2] == 4", &body);
    passes("[BODY].a[0] == [0,1]", &body);
    assert_eq!(
        fails("[BODY].data[2].id == 7", &body),
        "[BODY].data[2].id (not present) == 7"
    );
    fails("[BODY].a[1][3] == 4", &body);
    fails("[BODY].status[0] == U", &body);
}

#[test]
fn top_level_arrays() {
    let body = with_body(r#"[{"name":"a"},{"name":"b"},[5,6]]"#);
    passes("[BODY][0].name == a", &body);
    passes("[BODY][1].name == b", &body);
    passes("[BODY][2][1] == 6", &body);
    passes("len([BODY]) == 3", &body);
    fails("[BODY].name == a", &body);
}

#[test]
fn missing_paths_null_non_json_and_no_body() {
    let body = with_body(USER);
    assert_eq!(
        fails("[BODY].data[0].nope == 7", &body),
        "[BODY].data[0].nope (not present) == 7"
    );
    assert_eq!(
        fails("[BODY].nothing == null", &body),
        "[BODY].nothing (null) == null"
    );
    fails("[BODY].nope != 7", &body);
    let text = with_body("<html>not json</html>");
    assert_eq!(
        fails("[BODY].status == UP", &text),
        "[BODY].status (body is not JSON) == UP"
    );
    assert_eq!(
        fails("[BODY].status == UP", &Observation::default()),
        "[BODY].status (no body) == UP"
    );
}

#[test]
fn len_of_arrays_strings_objects_and_bodies() {
    let body = with_body(USER);
    assert_eq!(
        passes("len([BODY].data) == 2", &body),
        "len([BODY].data) (2) == 2"
    );
    passes("len([BODY].empty) == 0", &body);
    passes("len([BODY].a[1]) == 3", &body);
    passes("len([BODY].user.name) == 5", &body);
    passes("len([BODY].héllo) == 5", &body);
    passes(r#"len([BODY].obj) == 17"#, &body);
    passes("len([BODY].user.age) == 2", &body);
    assert_eq!(
        fails("len([BODY].missing) > 0", &body),
        "len([BODY].missing) (not present) > 0"
    );
    passes("len([BODY]) == 5", &with_body(" hello "));
    passes("len([BODY]) == 7", &with_body(r#"{"a":1}"#));
    passes("len([BODY]) == 0", &Observation::default());
    passes("len([IP]) == 9", &super::observation());
}

#[test]
fn has_reports_presence() {
    let body = with_body(USER);
    passes("has([BODY].user.name) == true", &body);
    passes("has([BODY].empty) == true", &body);
    assert_eq!(
        passes("has([BODY].errors) == false", &body),
        "has([BODY].errors) (false) == false"
    );
    passes("has([BODY].nothing) == false", &body);
    fails("has([BODY].errors) == true", &body);
    passes("has([BODY].status) == false", &with_body("not json"));
    passes("has([BODY]) == true", &body);
    passes("has([BODY]) == false", &with_body("  "));
    passes("has([BODY]) == false", &Observation::default());
    passes("has([IP]) == true", &super::observation());
    passes("has([DNS_RCODE]) == false", &super::observation());
}

#[test]
fn numeric_versus_string_comparison() {
    let body = with_body(
        r#"{"int":1,"float":1.0,"text":"1.0","half":1.5,"big":12345678901234567890,"zip":"007"}"#,
    );
    passes("[BODY].int == 1.0", &body);
    passes("[BODY].float == 1", &body);
    passes("[BODY].text == 1", &body);
    passes("[BODY].half == 1.50", &body);
    fails("[BODY].half == 1", &body);
    passes("[BODY].half < 2.5", &body);
    passes("[BODY].half > 1", &body);
    passes("[BODY].int != 2", &body);
    passes("[BODY].big == 12345678901234567890", &body);
    passes("[BODY].big > 12345678901234567889", &body);
    passes("[BODY].zip == 7", &body);
    passes("[BODY].zip == 007", &body);
    fails("[BODY].text == 1.0x", &body);
}
