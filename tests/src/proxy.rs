//! A TCP forwarder from a free port on 127.0.0.1 to a target port, for network faults in
//! tests: [`Proxy::cut_all`] drops every live connection (an SSH link cut mid-read), and
//! [`Proxy::set_down`] makes the host go silent (new connections are accepted and never
//! answered, bytes on existing ones are held back).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

struct Shared {
    target: SocketAddr,
    down: AtomicBool,
    stopping: AtomicBool,
    /// Both ends of every connection, to shut them down from outside.
    live: Mutex<Vec<TcpStream>>,
    /// Connections forwarded to the target so far.
    forwarded: AtomicUsize,
    /// Bytes passed from the target to clients.
    bytes_down: AtomicU64,
}

/// A running forwarder; stopped (every connection dropped) when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Forwards a free port on 127.0.0.1 to `127.0.0.1:target_port`.
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking proxy listener");
        let shared = Arc::new(Shared {
            target: SocketAddr::from(([127, 0, 0, 1], target_port)),
            down: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
            forwarded: AtomicUsize::new(0),
            bytes_down: AtomicU64::new(0),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || accept_loop(listener, s));
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shuts down every live connection, both directions, on both sides (including ones
    /// accepted while down). New connections are served as before.
    pub fn cut_all(&self) {
        let mut live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner());
        for s in live.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// While down, the host is silent: new connections are accepted but never forwarded
    /// or answered, and bytes on existing connections are held back (delivered when it is
    /// up again, unless cut meanwhile).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// How many connections were forwarded to the target so far (reconnects show here).
    pub fn connections(&self) -> usize {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Bytes delivered from the target to clients so far.
    pub fn bytes_from_target(&self) -> u64 {
        self.shared.bytes_down.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.cut_all();
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn register(shared: &Shared, stream: &TcpStream) {
    if let Ok(clone) = stream.try_clone() {
        shared
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(clone);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let _ = client.set_nonblocking(false);
        register(&shared, &client);
        if shared.down.load(Ordering::SeqCst) {
            // Held open by the registry, never answered: a host that went silent.
            continue;
        }
        let server = match TcpStream::connect_timeout(&shared.target, Duration::from_secs(5)) {
            Ok(s) => s,
            Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
        };
        register(&shared, &server);
        shared.forwarded.fetch_add(1, Ordering::SeqCst);
        let (c2, s2) = match (client.try_clone(), server.try_clone()) {
            (Ok(c), Ok(s)) => (c, s),
            _ => continue,
        };
        let up = Arc::clone(&shared);
        std::thread::spawn(move || pump(client, server, &up, false));
        let down = Arc::clone(&shared);
        std::thread::spawn(move || pump(s2, c2, &down, true));
    }
}

/// Copies `from` to `to` until either side ends, holding bytes while the proxy is down.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, from_target: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while shared.down.load(Ordering::SeqCst) && !shared.stopping.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if from_target {
            shared.bytes_down.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
