//! The OpenAPI document is generated from the routes; this snapshot makes every change to the public
//! surface (a path, a method) visible in review.

#[test]
fn every_api_operation_is_documented() {
    let doc = serde_json::to_value(upkeep_web::openapi_document()).expect("serialise");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            operations.push(format!("{} {path} -> {responses}", method.to_uppercase()));
        }
    }
    operations.sort();
    insta::assert_snapshot!(operations.join("\n"));
}
