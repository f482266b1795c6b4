//! The Function node (`RawFunctionNode`): user JavaScript over the payload, in a QuickJS
//! sandbox (`rquickjs`).
//!
//! Semantics are the original's: the script is the body of a function whose one argument is
//! `payload` — the whole payload, or the value at `scopePath` when set. It may mutate it
//! (`payload.working.x = 1`) or `return` a value, which then replaces it; the result is written
//! back as JSON. `console.log/info/warn/error` lines become Debug entries of the run.
//!
//! Why QuickJS, and how it is held:
//! - **A fresh runtime per run**, created and dropped on a blocking-pool thread (never on a
//!   tokio worker), at most [`MAX_PARALLEL`] at once; a run waiting for a slot waits under the
//!   run's deadline like any node.
//! - **Time**: an interrupt handler stops the script at `min(run deadline, now + script
//!   timeout)`; QuickJS calls it every few thousand operations, loops and regexps included.
//! - **Memory**: the runtime's own allocator limit (`JS_SetMemoryLimit`); an allocation past
//!   it throws inside the script, which ends the node.
//! - **Stack**: `JS_SetMaxStackSize`; deep recursion throws a RangeError.
//! - **No I/O**: a bare QuickJS context has no `require`, `process`, `fetch`, timers, file or
//!   network access, and no module loader is installed, so `import` fails too.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::{CatchResultExt, CaughtError, Context, Function, Runtime};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::config::Cfg;
use crate::{path, FlowError, NodeError, RunLimits};

/// Scripts running at once in this process (each holds a thread and up to its memory limit).
pub const MAX_PARALLEL: usize = 4;
/// The longest script, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Console lines kept per run, and characters per line.
const MAX_CONSOLE_LINES: usize = 100;
const MAX_CONSOLE_CHARS: usize = 2000;

static SLOTS: Semaphore = Semaphore::const_new(MAX_PARALLEL);

/// A checked `RawFunctionNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptConfig {
    pub script: String,
    pub scope_path: Option<String>,
}

pub(crate) fn parse(c: &Cfg<'_>) -> Result<ScriptConfig, FlowError> {
    let script = c.req_str("script")?;
    if script.len() > MAX_SCRIPT_BYTES {
        return Err(c.err("script", format!("is longer than {MAX_SCRIPT_BYTES} bytes")));
    }
    Ok(ScriptConfig {
        script,
        scope_path: c.path("scopePath")?,
    })
}

/// The sandbox's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sandbox {
    pub memory_bytes: usize,
    pub stack_bytes: usize,
    /// When the script is stopped.
    pub deadline: Instant,
    /// The time limit it came from, for the message.
    pub timeout_ms: u64,
}

/// What a script left behind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The new value of `payload` (`None`: it is still `undefined`).
    pub value: Option<Value>,
    /// `(level, line)` from `console.*`.
    pub console: Vec<(String, String)>,
}

/// Defines `console` over a sink; the sink is a local, so no global names it.
const PRELUDE: &str = r#"(function (sink) {
  var text = function (x) {
    if (typeof x === 'string') return x;
    try { var s = JSON.stringify(x); return s === undefined ? String(x) : s; }
    catch (e) { return String(x); }
  };
  var mk = function (level) {
    return function () {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(text(arguments[i]));
      sink(level, parts.join(' '));
    };
  };
  globalThis.console = { log: mk('info'), info: mk('info'), debug: mk('verbose'),
                         warn: mk('warn'), error: mk('error') };
})"#;

/// The script as a function of `payload` (the Function constructor parses the body on its
/// own, so a script cannot close the wrapper early).
const WRAP: &str = "(function (s) { return new Function('payload', s); })";

/// Runs `script` over `input` (`None` = `undefined`) in a fresh runtime, on this thread.
/// Blocks until the script ends or hits a limit.
pub fn eval(script: &str, input: Option<&Value>, sb: &Sandbox) -> Result<Outcome, NodeError> {
    let rt = Runtime::new()
        .map_err(|e| NodeError::Script(format!("cannot start the script engine: {e}")))?;
    rt.set_memory_limit(sb.memory_bytes);
    rt.set_max_stack_size(sb.stack_bytes);
    let deadline = sb.deadline;
    #[allow(clippy::disallowed_methods)]
    // a CPU-time bound, never stored or compared with the clock
    rt.set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)));
    let ctx = Context::full(&rt)
        .map_err(|e| NodeError::Script(format!("cannot start the script engine: {e}")))?;
    let console = Rc::new(RefCell::new(Vec::new()));
    let input_text = input.map(Value::to_string);
    let result = ctx.with(|ctx| -> Result<Option<String>, NodeError> {
        let sink = console.clone();
        let log = Function::new(ctx.clone(), move |level: String, line: String| {
            let mut v = sink.borrow_mut();
            if v.len() < MAX_CONSOLE_LINES {
                v.push((
                    level,
                    line.chars().take(MAX_CONSOLE_CHARS).collect::<String>(),
                ));
            }
        });
        let run = || -> rquickjs::Result<Option<String>> {
            let prelude: Function = ctx.eval(PRELUDE)?;
            prelude.call::<_, ()>((log?,))?;
            let wrap: Function = ctx.eval(WRAP)?;
            let f: Function = wrap.call((script,))?;
            let arg = match &input_text {
                Some(t) => ctx.json_parse(t.as_str())?,
                None => rquickjs::Value::new_undefined(ctx.clone()),
            };
            let ret: rquickjs::Value = f.call((arg.clone(),))?;
            let out = if ret.is_undefined() { arg } else { ret };
            if out.is_undefined() {
                return Ok(None);
            }
            match ctx.json_stringify(out)? {
                Some(s) => Ok(Some(s.to_string()?)),
                None => Ok(Some(String::new())),
            }
        };
        run().catch(&ctx).map_err(|e| describe(e, sb))
    });
    let console = console.borrow().clone();
    let value = match result? {
        None => None,
        Some(t) if t.is_empty() => {
            return Err(NodeError::Script(
                "the script's result cannot be represented as JSON".into(),
            ))
        }
        Some(t) => Some(serde_json::from_str(&t).map_err(|e| {
            NodeError::Script(format!("the script's result is not valid JSON: {e}"))
        })?),
    };
    Ok(Outcome { value, console })
}

/// A script error in words, naming the limit it hit.
fn describe(e: CaughtError<'_>, sb: &Sandbox) -> NodeError {
    #[allow(clippy::disallowed_methods)] // same bound as the interrupt handler
    let late = Instant::now() >= sb.deadline;
    let text = match &e {
        CaughtError::Exception(ex) => {
            let name: Option<String> = ex.get("name").ok();
            let m = ex.message().unwrap_or_default();
            match name {
                Some(n) if !n.is_empty() => format!("{n}: {m}"),
                _ => m,
            }
        }
        CaughtError::Value(v) => match v.as_string().and_then(|s| s.to_string().ok()) {
            Some(s) => s,
            None if v.is_null() => "null".into(),
            None => format!("a {} value", v.type_name()),
        },
        CaughtError::Error(err) => err.to_string(),
    };
    let lower = text.to_ascii_lowercase();
    // QuickJS throws `null` when it cannot even allocate the "out of memory" error; a script
    // that throws null itself is reported the same way.
    let oom = lower.contains("out of memory")
        || matches!(&e, CaughtError::Value(v) if v.is_null())
        || matches!(e, CaughtError::Error(rquickjs::Error::Allocation));
    NodeError::Script(if late || lower.contains("interrupted") {
        format!("the script exceeded its time limit of {} ms", sb.timeout_ms)
    } else if oom {
        format!(
            "the script exceeded its memory limit of {} bytes",
            sb.memory_bytes
        )
    } else if lower.contains("stack overflow") || lower.contains("call stack size exceeded") {
        format!(
            "the script exceeded its maximum stack size of {} bytes ({text})",
            sb.stack_bytes
        )
    } else {
        format!("the script threw {text}")
    })
}

/// Runs a Function node: off the async threads, under the run's deadline.
pub async fn run(
    c: &ScriptConfig,
    p: &mut Value,
    limits: &RunLimits,
    run_deadline: tokio::time::Instant,
) -> Result<Vec<(String, String)>, NodeError> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|_| NodeError::Script("the script engine is shut down".into()))?;
    let own = tokio::time::Instant::now() + Duration::from_millis(limits.script_timeout_ms);
    let deadline = own.min(run_deadline);
    let timeout_ms = limits.script_timeout_ms.min(limits.max_duration_ms);
    let sb = Sandbox {
        memory_bytes: limits.script_memory_bytes,
        stack_bytes: limits.script_stack_bytes,
        deadline: deadline.into_std(),
        timeout_ms,
    };
    let input = match &c.scope_path {
        Some(sp) => path::get(p, sp),
        None => Some(p.clone()),
    };
    let script = c.script.clone();
    let out = tokio::task::spawn_blocking(move || eval(&script, input.as_ref(), &sb))
        .await
        .map_err(|e| NodeError::Script(format!("the script engine failed: {e}")))??;
    match (&c.scope_path, out.value) {
        (_, None) => {}
        (Some(sp), Some(v)) => path::set(p, sp, v)?,
        (None, Some(v @ Value::Object(_))) => *p = v,
        (None, Some(other)) => {
            return Err(NodeError::Script(format!(
                "the script must leave payload an object, not {}",
                json!(other)
                    .to_string()
                    .chars()
                    .take(60)
                    .collect::<String>()
            )))
        }
    }
    Ok(out.console)
}
