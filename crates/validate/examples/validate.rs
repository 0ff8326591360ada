//! The gate alone as a binary: `validate DIR` runs [`keelson_validate::validate`] with the
//! defaults of `keelson validate` and prints the report as JSON; exit 1 when it has errors.
//! What `bench/validate.sh --engine` measures when the whole `keelson` release build is out of
//! reach (same library call, without the CLI's other commands).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: validate DIR");
        return ExitCode::from(2);
    };
    match keelson_validate::validate(&dir, &keelson_validate::Options::default()) {
        Ok(report) => {
            match serde_json::to_string(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => {
                    eprintln!("error: failed to write the report: {e}");
                    return ExitCode::from(2);
                }
            }
            if report.failed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
