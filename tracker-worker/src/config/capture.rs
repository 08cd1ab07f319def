//! serde's errors as data. A wrapper deserializer hands every `Deserialize` impl and visitor
//! an error type of its own, so that what they raise (an unknown key with the allowed ones, a
//! missing key, a value of the wrong type, ...) is recorded as a [`Kind`] instead of only as
//! serde's English text; serde_path_to_error adds the path to it. The format's own error
//! still travels through the format, so its position (toml's span, serde_json's line) is
//! exactly what the format reports.

use serde::de::{self, DeserializeSeed, Deserializer, Expected, Unexpected, Visitor};
use std::cell::Cell;
use std::fmt;

/// What a `Deserialize` impl or visitor reported, as serde's `de::Error` constructors get it.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    DuplicateField(&'static str),
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    InvalidType {
        found: Found,
        expected: String,
    },
    InvalidValue {
        found: Found,
        expected: String,
    },
    InvalidLength {
        len: usize,
        expected: String,
    },
    Custom(String),
}

/// serde's [`Unexpected`], owned: the value that was found where another was expected.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    Unit,
    Option,
    NewtypeStruct,
    Seq,
    Map,
    Enum,
    UnitVariant,
    NewtypeVariant,
    TupleVariant,
    StructVariant,
    Other(String),
}

impl Found {
    fn of(u: Unexpected) -> Self {
        match u {
            Unexpected::Bool(b) => Found::Bool(b),
            Unexpected::Unsigned(n) => Found::Unsigned(n),
            Unexpected::Signed(n) => Found::Signed(n),
            Unexpected::Float(f) => Found::Float(f),
            Unexpected::Char(c) => Found::Char(c),
            Unexpected::Str(s) => Found::Str(s.to_owned()),
            Unexpected::Bytes(b) => Found::Bytes(b.to_owned()),
            Unexpected::Unit => Found::Unit,
            Unexpected::Option => Found::Option,
            Unexpected::NewtypeStruct => Found::NewtypeStruct,
            Unexpected::Seq => Found::Seq,
            Unexpected::Map => Found::Map,
            Unexpected::Enum => Found::Enum,
            Unexpected::UnitVariant => Found::UnitVariant,
            Unexpected::NewtypeVariant => Found::NewtypeVariant,
            Unexpected::TupleVariant => Found::TupleVariant,
            Unexpected::StructVariant => Found::StructVariant,
            Unexpected::Other(s) => Found::Other(s.to_owned()),
        }
    }

    /// Back to serde's type, for its wording (`integer `600``, `string "x"`).
    pub fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Found::Bool(b) => Unexpected::Bool(*b),
            Found::Unsigned(n) => Unexpected::Unsigned(*n),
            Found::Signed(n) => Unexpected::Signed(*n),
            Found::Float(f) => Unexpected::Float(*f),
            Found::Char(c) => Unexpected::Char(*c),
            Found::Str(s) => Unexpected::Str(s),
            Found::Bytes(b) => Unexpected::Bytes(b),
            Found::Unit => Unexpected::Unit,
            Found::Option => Unexpected::Option,
            Found::NewtypeStruct => Unexpected::NewtypeStruct,
            Found::Seq => Unexpected::Seq,
            Found::Map => Unexpected::Map,
            Found::Enum => Unexpected::Enum,
            Found::UnitVariant => Unexpected::UnitVariant,
            Found::NewtypeVariant => Unexpected::NewtypeVariant,
            Found::TupleVariant => Unexpected::TupleVariant,
            Found::StructVariant => Unexpected::StructVariant,
            Found::Other(s) => Unexpected::Other(s),
        }
    }
}

/// serde's own wording of the error (what the format would have been given without the
/// wrapper), through `serde::de::value::Error`, whose constructors are serde's defaults.
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use de::Error as _;
        type E = de::value::Error;
        let e = match self {
            Kind::UnknownField { field, expected } => E::unknown_field(field, expected),
            Kind::MissingField(field) => E::missing_field(field),
            Kind::DuplicateField(field) => E::duplicate_field(field),
            Kind::UnknownVariant { variant, expected } => E::unknown_variant(variant, expected),
            Kind::InvalidType { found, expected } => {
                E::invalid_type(found.unexpected(), &expected.as_str())
            }
            Kind::InvalidValue { found, expected } => {
                E::invalid_value(found.unexpected(), &expected.as_str())
            }
            Kind::InvalidLength { len, expected } => E::invalid_length(*len, &expected.as_str()),
            Kind::Custom(message) => return f.write_str(message),
        };
        fmt::Display::fmt(&e, f)
    }
}

/// A failed read: serde_path_to_error's path, what was raised there (`None` for the
/// format's own errors: syntax, overflow) and the format's error carrying the position
/// (`None` when the error never passed through the format).
#[derive(Debug)]
pub struct Failure<E> {
    pub path: String,
    pub kind: Option<Kind>,
    pub error: Option<E>,
}

/// How the wrapper passes type hints on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hints {
    /// As given, so the format answers a value of the wrong type itself (as serde_json
    /// does, before asking the visitor) and its error has its own position.
    AsGiven,
    /// All but option, enum, newtype, bytes, 128-bit numbers and ignored values go to
    /// `deserialize_any`, so that the visitor judges each value and reports it as a
    /// [`Kind`]. Only for self-describing formats. (TOML forwards these hints to
    /// `deserialize_any` itself; a `toml::Spanned` field would need its struct hint kept.)
    VisitorJudges,
}

/// Deserializes a `T` from `de`, recording the [`Kind`] of an error raised while doing so.
pub fn deserialize<'de, D, T>(de: D, hints: Hints) -> Result<T, Failure<D::Error>>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    let raised = Cell::new(None);
    let ctx = Ctx {
        raised: &raised,
        hints,
    };
    serde_path_to_error::deserialize(Capture { de, ctx }).map_err(|e| {
        let path = e.path().to_string();
        match e.into_inner() {
            Error::Raised(kind) => Failure {
                path,
                kind: Some(kind),
                error: None,
            },
            Error::Format(error) => Failure {
                path,
                kind: raised.take(),
                error: Some(error),
            },
        }
    })
}

/// The error type the wrapped `Deserialize` impls see: raised by them, or the format's.
#[derive(Debug)]
enum Error<E> {
    Raised(Kind),
    Format(E),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Raised(kind) => kind.fmt(f),
            Error::Format(e) => e.fmt(f),
        }
    }
}

impl<E: de::Error> std::error::Error for Error<E> {}

impl<E: de::Error> de::Error for Error<E> {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Raised(Kind::Custom(msg.to_string()))
    }
    fn invalid_type(unexp: Unexpected, exp: &dyn Expected) -> Self {
        Error::Raised(Kind::InvalidType {
            found: Found::of(unexp),
            expected: exp.to_string(),
        })
    }
    fn invalid_value(unexp: Unexpected, exp: &dyn Expected) -> Self {
        Error::Raised(Kind::InvalidValue {
            found: Found::of(unexp),
            expected: exp.to_string(),
        })
    }
    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Error::Raised(Kind::InvalidLength {
            len,
            expected: exp.to_string(),
        })
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::Raised(Kind::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        })
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::Raised(Kind::UnknownField {
            field: field.to_owned(),
            expected,
        })
    }
    fn missing_field(field: &'static str) -> Self {
        Error::Raised(Kind::MissingField(field))
    }
    fn duplicate_field(field: &'static str) -> Self {
        Error::Raised(Kind::DuplicateField(field))
    }
}

/// Shared by all wrappers of one read: where a raised error is kept while the format's
/// error made from it travels up, and how hints are passed.
#[derive(Clone, Copy)]
struct Ctx<'c> {
    raised: &'c Cell<Option<Kind>>,
    hints: Hints,
}

impl<'c> Ctx<'c> {
    /// A result from the format, into the wrapped side.
    fn inward<T, E>(self, r: Result<T, E>) -> Result<T, Error<E>> {
        if r.is_ok() {
            // An error recorded earlier was recovered from; it is not the one reported.
            self.raised.take();
        }
        r.map_err(Error::Format)
    }

    /// A result from a wrapped impl, back to the format: a raised error is recorded and
    /// goes on as the format's error with serde's text, so that the format adds its
    /// position as it would have.
    fn outward<T, E: de::Error>(self, r: Result<T, Error<E>>) -> Result<T, E> {
        r.map_err(|e| match e {
            Error::Format(e) => e,
            Error::Raised(kind) => {
                let e = E::custom(&kind);
                self.raised.set(Some(kind));
                e
            }
        })
    }

    fn visitor<V>(self, visitor: V) -> Visit<'c, V> {
        Visit { visitor, ctx: self }
    }
}

struct Capture<'c, D> {
    de: D,
    ctx: Ctx<'c>,
}

/// Hints a visitor can judge for itself in a self-describing format.
macro_rules! judged_hints {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let visit = self.ctx.visitor(visitor);
            let r = match self.ctx.hints {
                Hints::AsGiven => self.de.$method($($arg,)* visit),
                Hints::VisitorJudges => {
                    $(let _ = $arg;)*
                    self.de.deserialize_any(visit)
                }
            };
            self.ctx.inward(r)
        }
    )*};
}

/// Hints passed on as given: the format treats them specially.
macro_rules! kept_hints {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let visit = self.ctx.visitor(visitor);
            self.ctx.inward(self.de.$method($($arg,)* visit))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Capture<'_, D> {
    type Error = Error<D::Error>;

    judged_hints! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
    }

    kept_hints! {
        deserialize_any();
        deserialize_i128();
        deserialize_u128();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_newtype_struct(name: &'static str);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct Visit<'c, V> {
    visitor: V,
    ctx: Ctx<'c>,
}

/// Visitor methods taking a plain value, forwarded with the wrapped error type.
macro_rules! plain_visits {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.ctx.outward(self.visitor.$method(v))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    plain_visits! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.ctx.outward(self.visitor.visit_none())
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.ctx.outward(self.visitor.visit_unit())
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let ctx = self.ctx;
        ctx.outward(self.visitor.visit_some(Capture { de, ctx }))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let ctx = self.ctx;
        ctx.outward(self.visitor.visit_newtype_struct(Capture { de, ctx }))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        ctx.outward(self.visitor.visit_seq(Access { inner: seq, ctx }))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        ctx.outward(self.visitor.visit_map(Access { inner: map, ctx }))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        ctx.outward(self.visitor.visit_enum(Access { inner: data, ctx }))
    }
}

struct Seed<'c, S> {
    seed: S,
    ctx: Ctx<'c>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let ctx = self.ctx;
        ctx.outward(self.seed.deserialize(Capture { de, ctx }))
    }
}

/// A wrapped sequence, map, enum or variant of the format.
struct Access<'c, A> {
    inner: A,
    ctx: Ctx<'c>,
}

impl<'c, A> Access<'c, A> {
    fn seed<S>(&self, seed: S) -> Seed<'c, S> {
        Seed {
            seed,
            ctx: self.ctx,
        }
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let seed = self.seed(seed);
        self.ctx.inward(self.inner.next_element_seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let seed = self.seed(seed);
        self.ctx.inward(self.inner.next_key_seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let seed = self.seed(seed);
        self.ctx.inward(self.inner.next_value_seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'c, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Access<'c, A> {
    type Error = Error<A::Error>;
    type Variant = Access<'c, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        let ctx = self.ctx;
        let seed = self.seed(seed);
        ctx.inward(self.inner.variant_seed(seed))
            .map(|(value, inner)| (value, Access { inner, ctx }))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.ctx.inward(self.inner.unit_variant())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let seed = self.seed(seed);
        self.ctx.inward(self.inner.newtype_variant_seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visit = self.ctx.visitor(visitor);
        self.ctx.inward(self.inner.tuple_variant(len, visit))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visit = self.ctx.visitor(visitor);
        self.ctx.inward(self.inner.struct_variant(fields, visit))
    }
}
