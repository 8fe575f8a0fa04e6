//! The explicit Arrow schema of each class's Parquet files: the attributes the mapping
//! writes, nested OCSF objects as structs, `unmapped` as map<string,string> (as Security
//! Lake's own tables have it). OCSF `integer_t` is Int32; `long_t` and `timestamp_t`
//! (milliseconds since the epoch) are Int64.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::class::OcsfClass;

fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

fn long(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

fn st(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

fn list(name: &str, item: Field) -> Field {
    Field::new(name, DataType::List(Arc::new(item)), true)
}

fn string_map(name: &str) -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

fn user(name: &str) -> Field {
    st(name, vec![s("name"), s("uid"), int("type_id"), s("type")])
}

fn named(name: &str) -> Field {
    st(name, vec![s("name"), s("uid")])
}

/// The Arrow schema of `class`'s files.
pub fn schema(class: OcsfClass) -> SchemaRef {
    let mut f = vec![
        int("activity_id"),
        s("activity_name"),
        int("category_uid"),
        s("category_name"),
        int("class_uid"),
        s("class_name"),
        long("type_uid"),
        s("type_name"),
        long("time"),
        int("severity_id"),
        s("severity"),
        int("status_id"),
        s("status"),
        s("status_detail"),
        s("status_code"),
        s("message"),
        st(
            "metadata",
            vec![
                s("version"),
                st(
                    "product",
                    vec![s("name"), s("vendor_name"), st("feature", vec![s("name")])],
                ),
                s("uid"),
                s("original_time"),
                s("event_code"),
                s("log_name"),
                s("log_provider"),
                long("processed_time"),
                list("profiles", Field::new("item", DataType::Utf8, true)),
            ],
        ),
        st("cloud", vec![s("provider"), st("account", vec![s("uid")])]),
        st("actor", vec![user("user")]),
    ];
    if class.has_src_endpoint() {
        f.push(st("src_endpoint", vec![s("ip"), int("port"), s("name")]));
    }
    f.extend(match class {
        OcsfClass::Authentication => vec![user("user"), named("service")],
        OcsfClass::AccountChange => vec![user("user")],
        OcsfClass::GroupManagement => vec![named("group"), user("user")],
        OcsfClass::UserAccessManagement => vec![
            list("privileges", Field::new("item", DataType::Utf8, true)),
            user("user"),
        ],
        OcsfClass::FileHostingActivity => vec![st(
            "file",
            vec![
                s("name"),
                s("path"),
                s("ext"),
                s("uid"),
                int("type_id"),
                s("type"),
            ],
        )],
        OcsfClass::ApiActivity => vec![
            st("api", vec![s("operation"), st("service", vec![s("name")])]),
            list("resources", st("item", vec![s("uid")])),
        ],
        OcsfClass::DetectionFinding => {
            vec![st("finding_info", vec![s("uid"), s("title"), s("desc")])]
        }
    });
    f.push(s("raw_data"));
    f.push(string_map("unmapped"));
    Arc::new(Schema::new(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_the_common_columns_and_its_own() {
        for c in OcsfClass::ALL {
            let sc = schema(c);
            for name in [
                "time", "type_uid", "metadata", "cloud", "raw_data", "unmapped",
            ] {
                assert!(sc.field_with_name(name).is_ok(), "{c:?} {name}");
            }
            assert_eq!(
                sc.field_with_name("src_endpoint").is_ok(),
                c.has_src_endpoint()
            );
        }
        assert!(schema(OcsfClass::DetectionFinding)
            .field_with_name("finding_info")
            .is_ok());
    }
}
