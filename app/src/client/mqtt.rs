//! MQTT: the lab's broker over a WebSocket (subprotocol `mqtt`). Being written: until then the lane stays idle.

use leptos::prelude::Callback;
use protocol::Transport;

use super::{LaneHandle, LaneOptions, LaneRecorder};

pub fn use_mqtt(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::Mqtt, &options);
    recorder.handle(Callback::new(|()| {}))
}
