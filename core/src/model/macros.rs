//! `string_enum!`: a closed set of values stored in documents as strings.

/// Declares an enum stored as a string in documents and SQLite, with `as_str`, `ALL`, `Display`,
/// `FromStr` (a typed error naming the field), autosurgeon `Hydrate` and rusqlite `FromSql`
/// (the projections keep the same strings) and serde (JSON carries the same strings).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident as $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string stored in documents and SQLite.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::CoreError;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::CoreError::InvalidInput {
                        field: $field,
                        reason: format!(
                            "unknown value {:?}; expected one of {}",
                            s.chars().take(40).collect::<String>(),
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }

        impl ::autosurgeon::Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> ::std::result::Result<Self, ::autosurgeon::HydrateError> {
                s.parse().map_err(|_| {
                    ::autosurgeon::HydrateError::unexpected(
                        concat!("a ", $field),
                        s.chars().take(40).collect::<String>(),
                    )
                })
            }
        }

        impl ::rusqlite::types::FromSql for $name {
            fn column_result(
                value: ::rusqlite::types::ValueRef<'_>,
            ) -> ::rusqlite::types::FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse().map_err(|e: $crate::error::CoreError| {
                    ::rusqlite::types::FromSqlError::Other(Box::new(e))
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|e: $crate::error::CoreError| ::serde::de::Error::custom(e))
            }
        }

        impl From<$name> for ::automerge::ScalarValue {
            fn from(v: $name) -> Self {
                ::automerge::ScalarValue::Str(v.as_str().into())
            }
        }
    };
}

pub(crate) use string_enum;
