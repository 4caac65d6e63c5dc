//! The embedded broker: a real MQTT broker (rumqttd) inside roadeye on 127.0.0.1, for the demo
//! and for boxes whose subscribers run on the box itself.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Why the embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The port is taken (often by another broker).
    #[error(
        "the embedded MQTT broker cannot listen on {addr}: {source} (another broker may be running there: stop it, set mqtt.port, or use it with `host` instead of `embedded`)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The broker's settings were refused.
    #[error("the embedded MQTT broker: {0}")]
    Config(String),
    /// Its thread could not start.
    #[error("cannot start the embedded MQTT broker's thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Starts the broker on 127.0.0.1:`port`, on its own threads, for the life of the process.
pub fn start_embedded(port: u16) -> Result<SocketAddr, BrokerError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // Binding first turns a taken port into a clear error; rumqttd would only log it.
    drop(TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?);
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 64
max_outgoing_packet_count = 200
max_segment_size = 16777216
max_segment_count = 4

[v4.1]
name = "roadeye-embedded"
listen = "{addr}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 200
dynamic_filters = true
"#
    );
    let config: rumqttd::Config =
        toml::from_str(&text).map_err(|e| BrokerError::Config(e.to_string()))?;
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = rumqttd::Broker::new(config).start() {
                tracing::error!("the embedded MQTT broker stopped: {e}");
            }
        })?;
    // The session connects at once: let the broker listen first (a few milliseconds), so the
    // start is not logged as a failed connection.
    let ready = std::time::Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100))
        .is_err()
        && ready.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(addr)
}
