//! One value per transport, in lane order. Serialized as a map keyed by the transport's id, exactly as a
//! `BTreeMap<Transport, T>` was, so the JSON on the wire did not change when the tables became arrays.

use std::ops::{Index, IndexMut};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Transport;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerTransport<T>([T; Transport::COUNT]);

impl<T> PerTransport<T> {
    pub fn from_fn(mut value: impl FnMut(Transport) -> T) -> Self {
        Self(Transport::ALL.map(&mut value))
    }

    /// Each transport with its value, in lane order.
    pub fn iter(&self) -> impl Iterator<Item = (Transport, &T)> {
        Transport::ALL.into_iter().zip(self.0.iter())
    }

    pub fn map<U>(&self, mut f: impl FnMut(Transport, &T) -> U) -> PerTransport<U> {
        PerTransport::from_fn(|transport| f(transport, &self[transport]))
    }
}

impl<T> Index<Transport> for PerTransport<T> {
    type Output = T;

    fn index(&self, transport: Transport) -> &T {
        &self.0[transport.index()]
    }
}

impl<T> IndexMut<Transport> for PerTransport<T> {
    fn index_mut(&mut self, transport: Transport) -> &mut T {
        &mut self.0[transport.index()]
    }
}

impl<T: Serialize> Serialize for PerTransport<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Every transport must be present: a table that silently defaulted a missing lane would hide a server bug.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerTransport<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut entries = std::collections::BTreeMap::<Transport, T>::deserialize(deserializer)?;
        let mut values = Vec::with_capacity(Transport::COUNT);
        for transport in Transport::ALL {
            let value =
                entries.remove(&transport).ok_or_else(|| D::Error::custom(format!("missing `{}`", transport.id())))?;
            values.push(value);
        }
        let array: [T; Transport::COUNT] = values.try_into().map_err(|_| D::Error::custom("wrong number of lanes"))?;
        Ok(Self(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_a_map_in_lane_order_and_back() {
        let table = PerTransport::from_fn(|transport| transport.id().len());
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(
            json,
            r#"{"short_poll":10,"long_poll":9,"sse":3,"web_socket":10,"http_stream":11,"webhook":7,"mqtt":4,"grpc":4}"#
        );
        assert_eq!(serde_json::from_str::<PerTransport<usize>>(&json).unwrap(), table);
        let missing = serde_json::from_str::<PerTransport<usize>>(r#"{"sse":1}"#).unwrap_err();
        assert!(missing.to_string().contains("missing `short_poll`"), "{missing}");
    }

    #[test]
    fn indexes_by_transport() {
        let mut table = PerTransport::<u32>::default();
        table[Transport::Sse] += 2;
        assert_eq!(table.iter().map(|(_, value)| *value).collect::<Vec<_>>(), [0, 0, 2, 0, 0, 0, 0, 0]);
    }
}
