//! Prints the SQL a query compiles to: `cargo run -p rjobs-query --example show_sql -- device '{"name":"a"}'`.

use rjobs_query::{parse_str, Dialect, ResourceType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = match args.get(1).map(String::as_str) {
        Some("group") => ResourceType::ExperienceGroup,
        Some("user") => ResourceType::ExperienceUser,
        _ => ResourceType::Device,
    };
    let text = args.get(2).map_or("{}", String::as_str);
    match parse_str(rt, text, None) {
        Ok(q) => {
            for d in [Dialect::Sqlite, Dialect::Postgres] {
                let f = q.to_sql(d, "d", "0000000000000000000000aa", 2);
                println!("{d:?}: {}\n  {:?}", f.sql, f.params);
            }
        }
        Err(e) => println!("error: {e}"),
    }
}
