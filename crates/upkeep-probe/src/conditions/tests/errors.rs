//! Parse errors, each with the exact byte position where the problem starts.

use super::{error_at, parse_error};

#[test]
fn unknown_placeholder_names_the_allowed_ones() {
    error_at("[STATSU] == 200", 0, "unknown placeholder `[STATSU]`");
    let message = parse_error("[STATSU] == 200").message;
    for token in [
        "[STATUS]",
        "[RESPONSE_TIME]",
        "[BODY]",
        "[IP]",
        "[CONNECTED]",
        "[CERTIFICATE_EXPIRATION]",
        "[DNS_RCODE]",
    ] {
        assert!(message.contains(token), "{message} should list {token}");
    }
    error_at("[STATUS] == [STATSU]", 12, "unknown placeholder");
    error_at("len([NOPE]) > 1", 4, "unknown placeholder `[NOPE]`");
}

#[test]
fn gatus_only_placeholders_and_functions_are_named_as_unsupported() {
    error_at("[HEADER].Content-Type == text/html", 0, "does not support");
    error_at("[DOMAIN_EXPIRATION] > 720h", 0, "does not support");
    error_at("age([BODY].updated) < 1h", 0, "does not support");
}

#[test]
fn operators_need_spaces() {
    error_at(
        "[STATUS]==200",
        8,
        "needs a space on each side: `[STATUS] == 200`",
    );
    error_at("[RESPONSE_TIME]<300", 15, "`<`");
    error_at("[STATUS] !=200", 9, "`!=`");
    error_at("[STATUS] = 200", 9, "`=` is not an operator");
    error_at("[STATUS] 200", 8, "missing operator");
    error_at("[STATUS]", 8, "missing operator");
}

#[test]
fn empty_condition_and_empty_sides() {
    error_at("", 0, "empty");
    error_at("   ", 0, "empty");
    error_at("== 200", 0, "nothing on the left of `==`");
    error_at(" == 200", 0, "nothing on the left of `==`");
    error_at("[STATUS] ==", 11, "nothing on the right of `==`");
    error_at("[STATUS] == ", 12, "nothing on the right of `==`");
    error_at("[STATUS] <=   ", 12, "nothing on the right of `<=`");
}

#[test]
fn unbalanced_brackets_and_parentheses() {
    error_at("[BODY == 1", 0, "unclosed `[`");
    error_at("[BODY].data[0 == 1", 11, "unclosed `[`");
    error_at("[BODY].a] == 1", 8, "unexpected `]`");
    error_at("len([BODY].data == 1", 3, "unclosed `(`");
    error_at("has([BODY].x == true", 3, "unclosed `(`");
    error_at("[BODY] == pat(*ok*", 13, "unclosed `(` in pat()");
    error_at("[STATUS] == any(200, 429", 15, "unclosed `(` in any()");
    error_at("len([BODY]) x == 1", 12, "unexpected `x` after len()");
}

#[test]
fn json_path_mistakes() {
    error_at("[BODY]..x == 1", 6, "empty key");
    error_at("[BODY]. == 1", 6, "ends with `.`");
    error_at("[BODY].data[x] == 1", 12, "non-negative integer, not `x`");
    error_at("[BODY].data[-1] == 1", 12, "not `-1`");
    error_at("[BODY].data[] == 1", 12, "not ``");
    error_at("[BODY].data[*].id == 1", 11, "`[*]`");
    error_at("[BODY]x == 1", 6, "unexpected `x`");
    error_at("[BODY][99999999999999999999999] == 1", 7, "too large");
}

#[test]
fn json_path_only_on_body() {
    error_at("[STATUS].x == 1", 8, "[STATUS] has no fields");
    error_at("[IP][0] == 1", 4, "only apply to [BODY]");
    error_at("[STATUS] foo == 1", 9, "unexpected `foo` after [STATUS]");
}

#[test]
fn unknown_function() {
    error_at("foo([BODY]) == 1", 0, "unknown function `foo()`");
    error_at("[BODY] == bar(1)", 10, "unknown function `bar()`");
    error_at("LEN([BODY]) == 1", 0, "unknown function `LEN()`");
}

#[test]
fn len_and_has_take_a_placeholder() {
    error_at("len() == 1", 4, "takes a placeholder");
    error_at("len(200) == 1", 4, "takes a placeholder");
    error_at("has(len([BODY])) == true", 4, "takes a placeholder");
}

#[test]
fn pat_and_any_only_on_the_right_with_equality() {
    error_at(
        "[STATUS] > pat(2*)",
        11,
        "pat() only works with `==` and `!=`",
    );
    error_at("[STATUS] < any(200, 300)", 11, "any() only works");
    error_at("pat(*) == [BODY]", 0, "pat() goes on the right side");
    error_at("any(1, 2) == [STATUS]", 0, "any() goes on the right side");
}

#[test]
fn any_values_are_checked() {
    error_at("[STATUS] == any()", 16, "empty value in any()");
    error_at("[STATUS] == any(200,,429)", 20, "empty value");
    error_at("[STATUS] == any(200, abc)", 21, "`abc` is not a number");
}

#[test]
fn numeric_placeholders_need_numbers() {
    error_at(
        "[RESPONSE_TIME] < abc",
        18,
        "`[RESPONSE_TIME]` is compared with milliseconds",
    );
    error_at("[STATUS] == OK", 12, "`OK` is not a number");
    error_at("len([BODY].items) > many", 20, "not a number");
    error_at("abc > [RESPONSE_TIME]", 0, "invalid duration `abc`");
}

#[test]
fn certificate_expiration_needs_a_duration() {
    error_at("[CERTIFICATE_EXPIRATION] > 48x", 29, "unknown unit `x`");
    error_at("[CERTIFICATE_EXPIRATION] > 1h30", 31, "missing unit");
    error_at(
        "[CERTIFICATE_EXPIRATION] > soon",
        27,
        "durations such as 48h",
    );
}

#[test]
fn booleans_need_true_or_false_and_equality() {
    error_at("[CONNECTED] == yes", 15, "`yes` is not true or false");
    error_at("has([BODY].x) == maybe", 17, "not true or false");
    error_at("[CONNECTED] > true", 0, "compare it with `==` or `!=`");
    error_at("has([BODY].x) <= false", 0, "compare it with");
}

#[test]
fn ordering_on_text_needs_a_number_or_duration() {
    error_at(
        "[BODY].version > abc",
        17,
        "neither a number nor a duration",
    );
}

#[test]
fn a_placeholder_is_required() {
    error_at("200 == 200", 0, "neither side uses a placeholder");
    error_at("STATUS == 200", 0, "neither side uses a placeholder");
}

#[test]
fn error_display_and_error_trait() {
    let error = parse_error("[STATUS]==200");
    assert!(
        error
            .to_string()
            .starts_with("at position 8: the operator `==` needs a space")
    );
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.to_string().contains("position 8"));
}

#[test]
fn parse_never_panics_on_fragments() {
    let samples = [
        "len([BODY].data[0].items) >= any(1, 2)",
        "[BODY].héllo[1][2] != pat(*ö*)",
        "has([BODY].a.b) == true",
        "[CERTIFICATE_EXPIRATION] > 1h30m",
        "([{)]}) == ([{",
        "é(ü) == [ß]",
    ];
    for sample in samples {
        for (start, _) in sample.char_indices() {
            for (end, _) in sample.char_indices().chain([(sample.len(), ' ')]) {
                if start <= end {
                    let _ = super::Condition::parse(&sample[start..end]);
                }
            }
        }
    }
}
