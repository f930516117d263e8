//! Running lakeaug on an Apache DataFusion Ballista cluster: one binary, three roles.
//!
//! - [`roles`]: `lakeaug cluster scheduler` and `lakeaug cluster executor`, Ballista's
//!   scheduler and executor embedded with lakeaug's codec;
//! - [`driver`]: `lakeaug run --cluster`, a [`crate::pipeline::ChunkRunner`] that submits
//!   each chunk of each input file as a Ballista job, up to K at once;
//! - [`exec`]: the job's one plan node, [`exec::ChunkExec`], which runs
//!   [`crate::pipeline::run_chunk`] on the executor and returns one metadata row;
//! - [`query`]: `lakeaug query --cluster`, SQL whose physical plans run on the cluster;
//! - [`codec`]: how lakeaug's nodes and UDFs travel (and where the roles check their
//!   versions).
//!
//! The driver stays the only writer of state: tasks publish parts under the run's lock,
//! the driver commits them (see `pipeline/remote.rs`).

pub mod codec;
pub mod driver;
pub mod exec;
pub mod query;
pub mod roles;

/// Why a cluster role could not start or reach the others.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "{url:?} is not a scheduler address: give HOST:PORT (or df://HOST:PORT, http://HOST:PORT)"
    )]
    BadUrl { url: String },
    #[error("{addr:?} is not an address to bind: give HOST:PORT (e.g. 0.0.0.0:50050)")]
    BadBind { addr: String },
    #[error("cannot start the cluster's I/O runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("the Ballista {role} stopped: {message}")]
    Ballista { role: &'static str, message: String },
    #[error("cannot create the executor's work folder {path}: {source}")]
    WorkDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `HOST:PORT`, `df://HOST:PORT` or `http://HOST:PORT` as the gRPC URL Ballista's client
/// takes, and its host and port.
pub fn scheduler_url(url: &str) -> Result<(String, String, u16), ClusterError> {
    let bad = || ClusterError::BadUrl {
        url: url.to_string(),
    };
    let rest = ["df://", "http://", "grpc://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .unwrap_or(url)
        .trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((format!("http://{host}:{port}"), host.to_string(), port))
}

/// `HOST:PORT` to bind.
pub fn bind_addr(addr: &str) -> Result<(String, u16), ClusterError> {
    let bad = || ClusterError::BadBind {
        addr: addr.to_string(),
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls_in_every_spelling() {
        let want = ("http://h:50050".to_string(), "h".to_string(), 50050);
        for url in ["h:50050", "df://h:50050", "http://h:50050/"] {
            assert_eq!(scheduler_url(url).unwrap(), want, "{url}");
        }
        for bad in ["h", "df://:1", "h:port"] {
            assert!(scheduler_url(bad).is_err(), "{bad}");
        }
        assert_eq!(bind_addr("0.0.0.0:7").unwrap(), ("0.0.0.0".into(), 7));
        assert!(bind_addr("7").is_err());
    }
}
