//! `wrk_script`: prints a wrk Lua script that replays pre-signed PutRow, GetRow or GetRange
//! requests, so `wrk -t2 -c64 -d10s -s put.lua http://127.0.0.1:8800` drives otsd without
//! signing in Lua. Signatures carry the generation time and stay valid for otsd's 15-minute date skew.
//! `--target baseline` emits the same bodies without auth headers for `hyper_baseline`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use otsd::cli::bench::{ensure_table, key_of, PK_COLUMN, VALUE_COLUMN};
use otsd::client::auth::{request_date, signed_headers, Credentials};
use otsd::client::{Client, ClientConfig};
use otsd::config::{DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_LISTEN};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    encode_primary_key, encode_row, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
};
use prost::Message;
use rand::{Rng, RngCore, SeedableRng};

/// The API the generated requests call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ApiName {
    /// PutRow of `--value-size` bytes under each key.
    #[value(name = "PutRow")]
    PutRow,
    /// GetRow of each key.
    #[value(name = "GetRow")]
    GetRow,
    /// GetRange of up to `--limit` rows forward from each key, as a sync page reads.
    #[value(name = "GetRange")]
    GetRange,
}

impl ApiName {
    fn as_str(self) -> &'static str {
        match self {
            ApiName::PutRow => "PutRow",
            ApiName::GetRow => "GetRow",
            ApiName::GetRange => "GetRange",
        }
    }
}

/// The server the script is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// otsd: V2-signed x-ots headers.
    Otsd,
    /// hyper_baseline: the same POST bodies, no protocol headers.
    Baseline,
}

/// Prints a wrk Lua script of pre-signed Tablestore requests.
#[derive(Debug, Parser)]
#[command(name = "wrk_script", about)]
struct Args {
    /// API of the requests.
    #[arg(long, value_enum, default_value = "PutRow")]
    api: ApiName,
    /// Table the requests address (keys and columns as `otsd bench` uses them).
    #[arg(long, default_value = "bench")]
    table: String,
    /// Instance the requests address.
    #[arg(long, default_value = "bench")]
    instance: String,
    /// Access key id to sign with.
    #[arg(long, default_value = DEFAULT_ACCESS_KEY_ID)]
    access_key_id: String,
    /// Access key secret to sign with.
    #[arg(long, default_value = DEFAULT_ACCESS_KEY_SECRET)]
    access_key_secret: String,
    /// Distinct keys: the script cycles through this many pre-signed requests.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// First key number (keys are `--key-start .. --key-start + --keys`, or see `--key-space`).
    #[arg(long, default_value_t = 0)]
    key_start: u64,
    /// Draw the `--keys` keys at random (seeded) from `--key-start .. --key-start +
    /// --key-space` instead of taking them in order, so a few thousand scripted requests
    /// still spread over a whole table.
    #[arg(long)]
    key_space: Option<u64>,
    /// Rows per GetRange request.
    #[arg(long, default_value_t = 20)]
    limit: i32,
    /// Bytes of the value column (PutRow).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Server the script is for.
    #[arg(long, value_enum, default_value = "otsd")]
    target: Target,
    /// Create the table first (via the client at `--endpoint`) if it does not exist.
    #[arg(long)]
    create_table: bool,
    /// Endpoint used by `--create-table`.
    #[arg(long, default_value_t = format!("http://{DEFAULT_LISTEN}"))]
    endpoint: String,
    /// Write the script here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// The protobuf body of the request for key number `key`.
fn body(args: &Args, key: u64, value: &[u8]) -> Vec<u8> {
    match args.api {
        ApiName::PutRow => pb::PutRowRequest {
            table_name: args.table.clone(),
            row: encode_row(&Row {
                primary_key: key_of(key),
                cells: vec![Cell::put(
                    VALUE_COLUMN,
                    ColumnValue::Binary(value.to_vec()),
                    None,
                )],
                delete_marker: false,
            }),
            condition: pb::Condition {
                row_existence: pb::RowExistenceExpectation::Ignore as i32,
                column_condition: None,
            },
            ..Default::default()
        }
        .encode_to_vec(),
        ApiName::GetRow => pb::GetRowRequest {
            table_name: args.table.clone(),
            primary_key: encode_primary_key(&key_of(key)),
            max_versions: Some(1),
            ..Default::default()
        }
        .encode_to_vec(),
        ApiName::GetRange => pb::GetRangeRequest {
            table_name: args.table.clone(),
            direction: pb::Direction::Forward as i32,
            max_versions: Some(1),
            limit: Some(args.limit),
            inclusive_start_primary_key: encode_primary_key(&key_of(key)),
            exclusive_end_primary_key: encode_primary_key(&[PrimaryKeyColumn::new(
                PK_COLUMN,
                PrimaryKeyValue::InfMax,
            )]),
            ..Default::default()
        }
        .encode_to_vec(),
    }
}

/// The key numbers of the scripted requests: `--keys` of them, in order from `--key-start`,
/// or drawn at random from `--key-space` keys when that is given.
fn key_numbers(args: &Args) -> Vec<u64> {
    match args.key_space {
        Some(space) if space > 0 => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            (0..args.keys)
                .map(|_| args.key_start.saturating_add(rng.gen_range(0..space)))
                .collect()
        }
        _ => (args.key_start..args.key_start.saturating_add(args.keys)).collect(),
    }
}

/// `bytes` as a double-quoted Lua string literal: printable ASCII as is, everything else
/// (and `"`, `\`) as a three-digit decimal escape, so binary bodies survive unchanged.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 2);
    out.push('"');
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:03}");
        }
    }
    out.push('"');
    out
}

/// The whole Lua script for `args`, dated `date` (the signed `x-ots-date`).
fn script(args: &Args, date: &str) -> String {
    let credentials = Credentials {
        access_key_id: args.access_key_id.clone(),
        access_key_secret: args.access_key_secret.clone(),
        instance: args.instance.clone(),
    };
    let mut value = vec![0u8; args.value_size];
    rand::rngs::StdRng::seed_from_u64(42).fill_bytes(&mut value);
    let api = args.api.as_str();
    let mut out = String::new();
    let keys = match args.key_space {
        Some(space) => format!(
            "{} keys drawn from {space} from {}",
            args.keys, args.key_start
        ),
        None => format!("{} keys from {}", args.keys, args.key_start),
    };
    let _ = writeln!(
        out,
        "-- wrk script by wrk_script: {api} on table '{}' of instance '{}', {keys} \
         (column '{PK_COLUMN}'), target {:?}.",
        args.table, args.instance, args.target
    );
    if args.target == Target::Otsd {
        let _ = writeln!(
            out,
            "-- Signed at x-ots-date {date}: otsd accepts it for 15 minutes; regenerate after."
        );
    }
    let _ = writeln!(
        out,
        "-- Run: wrk -t2 -c64 -d10s -s <this file> http://127.0.0.1:8800"
    );
    out.push_str("local bodies = {\n");
    let bodies: Vec<Vec<u8>> = key_numbers(args)
        .into_iter()
        .map(|k| body(args, k, &value))
        .collect();
    for b in &bodies {
        let _ = writeln!(out, "  {},", lua_string(b));
    }
    out.push_str("}\nlocal headers = {\n");
    for b in &bodies {
        out.push_str("  {");
        if args.target == Target::Otsd {
            for (name, value) in signed_headers(&credentials, api, b, date) {
                let _ = write!(out, " [\"{name}\"] = {},", lua_string(value.as_bytes()));
            }
        }
        out.push_str(" },\n");
    }
    let _ = write!(
        out,
        "}}\n\
         local requests = {{}}\n\
         local next_request = 0\n\
         \n\
         init = function(args)\n\
         \x20 for k = 1, #bodies do\n\
         \x20   requests[k] = wrk.format(\"POST\", \"/{api}\", headers[k], bodies[k])\n\
         \x20 end\n\
         end\n\
         \n\
         request = function()\n\
         \x20 next_request = next_request % #requests + 1\n\
         \x20 return requests[next_request]\n\
         end\n"
    );
    out
}

fn create_table(args: &Args) -> anyhow::Result<()> {
    let client = Client::new(ClientConfig::new(
        &args.endpoint,
        &args.instance,
        &args.access_key_id,
        &args.access_key_secret,
    ))
    .context("invalid client configuration")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let created = runtime.block_on(ensure_table(&client, &args.table))?;
    eprintln!(
        "table '{}' of instance '{}' {}",
        args.table,
        args.instance,
        if created { "created" } else { "exists" }
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.keys >= 1, "--keys must be at least 1");
    anyhow::ensure!(args.key_space != Some(0), "--key-space must be at least 1");
    anyhow::ensure!(args.limit >= 1, "--limit must be at least 1");
    if args.create_table {
        anyhow::ensure!(
            args.target == Target::Otsd,
            "--create-table needs --target otsd"
        );
        create_table(&args)?;
    }
    let text = script(&args, &request_date());
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["wrk_script"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("flags parse")
    }

    /// Undoes `lua_string` (for the escapes it produces only).
    fn unlua(literal: &str) -> Vec<u8> {
        let inner = literal
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .expect("quoted");
        let bytes = inner.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' {
                let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).expect("ascii");
                out.push(digits.parse().expect("decimal escape"));
                i += 4;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn lua_strings_escape_binary_quotes_and_backslashes() {
        let raw = b"a\"b\\c\x00\xff\n9";
        let lit = lua_string(raw);
        assert_eq!(lit, "\"a\\034b\\092c\\000\\255\\0109\"");
        assert_eq!(unlua(&lit), raw);
    }

    #[test]
    fn script_cycles_through_one_signed_request_per_key() {
        let a = args(&["--api", "GetRow", "--keys", "3", "--table", "t"]);
        let text = script(&a, "2024-01-02T03:04:05.000Z");
        assert_eq!(text.matches("x-ots-signature").count(), 3);
        assert!(text.contains("wrk.format(\"POST\", \"/GetRow\""));
        assert!(text.contains("request = function()"));
        // Each body line decodes as the GetRow of its key.
        let first_body = text
            .lines()
            .skip_while(|l| !l.starts_with("local bodies"))
            .nth(1)
            .expect("a body line")
            .trim()
            .trim_end_matches(',');
        let req = pb::GetRowRequest::decode(unlua(first_body).as_slice()).expect("GetRow");
        assert_eq!(req.table_name, "t");
        assert_eq!(req.primary_key, encode_primary_key(&key_of(0)));
    }

    #[test]
    fn signed_headers_in_the_script_verify_on_the_server() {
        let a = args(&["--keys", "1", "--instance", "inst"]);
        let date = request_date();
        let b = body(&a, 0, &[7; 100]);
        let credentials = Credentials {
            access_key_id: a.access_key_id.clone(),
            access_key_secret: a.access_key_secret.clone(),
            instance: a.instance.clone(),
        };
        let mut map = hyper::HeaderMap::new();
        for (name, value) in signed_headers(&credentials, "PutRow", &b, &date) {
            map.insert(name, value.parse().expect("header value"));
        }
        let config = otsd::config::ServerConfig::default();
        let verified = otsd::server::auth::verify(&map, &b, "PutRow", &config, chrono::Utc::now())
            .expect("verifies");
        assert_eq!(verified.instance, "inst");
    }

    #[test]
    fn range_scripts_read_limit_rows_forward_from_keys_spread_over_the_key_space() {
        let a = args(&[
            "--api",
            "GetRange",
            "--keys",
            "50",
            "--key-space",
            "100000",
            "--limit",
            "20",
        ]);
        let keys = key_numbers(&a);
        assert_eq!(keys.len(), 50);
        assert!(keys.iter().all(|&k| k < 100_000));
        // Spread, not the first 50 keys in order.
        assert!(keys.iter().any(|&k| k >= 50));
        let req = pb::GetRangeRequest::decode(body(&a, keys[0], &[]).as_slice()).expect("GetRange");
        assert_eq!(req.limit, Some(20));
        assert_eq!(req.direction, pb::Direction::Forward as i32);
        assert_eq!(
            req.inclusive_start_primary_key,
            encode_primary_key(&key_of(keys[0]))
        );
        let end = [PrimaryKeyColumn::new(PK_COLUMN, PrimaryKeyValue::InfMax)];
        assert_eq!(req.exclusive_end_primary_key, encode_primary_key(&end));
        let text = script(&a, "2024-01-02T03:04:05.000Z");
        assert!(text.contains("wrk.format(\"POST\", \"/GetRange\""));
        assert!(text.contains("50 keys drawn from 100000 from 0"));
    }

    #[test]
    fn baseline_scripts_carry_bodies_but_no_auth_headers() {
        let a = args(&["--target", "baseline", "--keys", "2"]);
        let text = script(&a, "2024-01-02T03:04:05.000Z");
        assert!(!text.contains("x-ots-"));
        assert!(text.contains("\"/PutRow\""));
        assert_eq!(text.matches("  { },").count(), 2);
    }
}
