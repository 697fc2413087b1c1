//! Who a request comes from. A Civitas behind a proxy (`--behind-proxy
//! true`) takes the client's address from `X-Forwarded-For` and rate-limits
//! per client network; a run can speak as many citizens, each from an
//! address of their own, or as one flooding client.

use std::future::Future;

use reqwest::{RequestBuilder, Response};

use crate::failure::Failure;

tokio::task_local! {
    static ADDRESS: String;
}

/// Runs `work` with every request it sends coming from `address` (none:
/// from this machine's own address).
pub async fn as_client<F: Future>(address: Option<String>, work: F) -> F::Output {
    match address {
        Some(address) => ADDRESS.scope(address, work).await,
        None => work.await,
    }
}

/// A random address in 10.0.0.0/8: a network of its own, as a citizen at
/// home has.
pub fn someone() -> String {
    let [a, b, c] = rand::random::<[u8; 3]>();
    format!("10.{a}.{b}.{c}")
}

/// Sends a request as the client `as_client` set, naming `step` in any
/// failure.
pub trait SendAsClient {
    fn send_as_client(self, step: &str) -> impl Future<Output = Result<Response, Failure>> + Send;
}

impl SendAsClient for RequestBuilder {
    fn send_as_client(self, step: &str) -> impl Future<Output = Result<Response, Failure>> + Send {
        let step = step.to_string();
        async move {
            // Read when the request is sent, within the caller's scope.
            let builder = match ADDRESS.try_with(Clone::clone) {
                Ok(address) => self.header("X-Forwarded-For", address),
                Err(_) => self,
            };
            builder
                .send()
                .await
                .map_err(|e| Failure::transport(&step, &e))
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Sends one request through `send_as_client` within `address`'s scope
    /// and returns the `X-Forwarded-For` the server saw.
    async fn seen(address: Option<String>) -> Option<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let http = reqwest::Client::new();
        let response = as_client(address, http.get(url).send_as_client("GET /"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let request = server.await.unwrap();
        request
            .lines()
            .find_map(|l| l.strip_prefix("x-forwarded-for: "))
            .map(str::to_string)
    }

    #[tokio::test]
    async fn requests_carry_the_address_of_their_scope() {
        assert_eq!(seen(None).await, None);
        let address = someone();
        assert!(address.starts_with("10."), "{address}");
        assert_eq!(seen(Some(address.clone())).await, Some(address));
    }
}
