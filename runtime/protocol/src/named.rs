//! Names of the enums that cross process boundaries: each derives its names with strum
//! (`IntoStaticStr`, `EnumString`, `VariantArray`, `VariantNames`), and [`Named`] gives
//! every such enum the same small API, so no name table is written by hand.

use std::str::FromStr;

use strum::{VariantArray, VariantNames};

/// An enum whose variants have names (in KDL, JSON, metrics labels, command lines).
pub trait Named: Copy + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// Every variant's name, in the same order.
    const NAMES: &'static [&'static str];
    fn name(self) -> &'static str;
    /// The variant named `name` (exactly as [`name`](Self::name) spells it).
    fn parse(name: &str) -> Option<Self>;
}

impl<T> Named for T
where
    T: Copy + 'static + VariantArray + VariantNames + Into<&'static str> + FromStr,
{
    const ALL: &'static [Self] = <T as VariantArray>::VARIANTS;
    const NAMES: &'static [&'static str] = <T as VariantNames>::VARIANTS;

    fn name(self) -> &'static str {
        self.into()
    }

    fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

/// Serialises a [`Named`] enum as its name and reads it back from one, so serde and
/// strum cannot disagree on a spelling.
#[macro_export]
macro_rules! serde_by_name {
    ($($enum:ty),+ $(,)?) => {$(
        impl ::serde::Serialize for $enum {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($crate::Named::name(*self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $enum {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                <Self as $crate::Named>::parse(&name).ok_or_else(|| {
                    ::serde::de::Error::unknown_variant(&name, <Self as $crate::Named>::NAMES)
                })
            }
        }
    )+};
}
