//! The benchmarks' command line: `--flag value` pairs and nothing else (a benchmark takes a few
//! numbers; a parser crate would be more than it needs). The flags most of them share — how
//! many iterations, at what concurrency, on which database — are parsed here once.

use anyhow::{bail, Context};

/// `--count`, `--concurrency` and `--database` (`sqlite`, the default, or `postgres`).
#[derive(Debug, Clone)]
pub struct RunFlags {
    pub count: usize,
    pub concurrency: u32,
    pub database: String,
}

impl RunFlags {
    /// The defaults of one benchmark, on SQLite.
    pub fn new(count: usize, concurrency: u32) -> RunFlags {
        RunFlags {
            count,
            concurrency,
            database: "sqlite".to_string(),
        }
    }

    /// Takes `flag` when it is one of these; `false` when it is not.
    pub fn take(&mut self, flag: &str, val: String) -> anyhow::Result<bool> {
        match flag {
            "--count" => self.count = val.parse()?,
            "--concurrency" => self.concurrency = val.parse()?,
            "--database" => self.database = val,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Hands every `--flag value` of the command line to `take`, which answers whether it knows
/// the flag; a flag without a value or one nobody takes is an error.
pub fn parse(mut take: impl FnMut(&str, String) -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        if !take(&flag, val)? {
            bail!("unknown flag {flag}");
        }
    }
    Ok(())
}
