//! A minimal `text/event-stream` reader for `executions watch`: splits the body into events
//! (`event:`, `data:`, `id:` fields; comments and keep-alives ignored) as chunks arrive. Only
//! what the rjobs server sends is needed, so no retry field and no BOM handling.

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` (empty: the default `message`).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// `id:`, when given.
    pub id: Option<String>,
}

/// Buffers a partial event between chunks; at most one event's bytes are held.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: String,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &str) -> Vec<SseEvent> {
        self.buf.push_str(&chunk.replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let mut ev = SseEvent::default();
            let mut any = false;
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => ev.event = value.to_string(),
                    "data" => {
                        if any {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(value);
                        any = true;
                    }
                    "id" => ev.id = Some(value.to_string()),
                    _ => {}
                }
            }
            if any || !ev.event.is_empty() {
                out.push(ev);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(": keep-alive\n\nevent: prog").is_empty());
        let got = p.push("ress\nid: 3-1\ndata: {\"a\":1}\n\nevent: done\ndata: {}\n\n");
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "progress".into(),
                    data: "{\"a\":1}".into(),
                    id: Some("3-1".into())
                },
                SseEvent {
                    event: "done".into(),
                    data: "{}".into(),
                    id: None
                }
            ]
        );
    }
}
