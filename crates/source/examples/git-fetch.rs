//! Fetch a branch into a directory (and optionally build the artifact), for benchmarks.
//!
//! `git-fetch URL BRANCH DEST [STORAGE_DIR]` prints the revision (and the artifact digest).

use keelson_source::{FetchOptions, Filter, GitReference, Storage, fetch};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: git-fetch URL BRANCH DEST [STORAGE_DIR]");
        std::process::exit(2);
    }
    let options = FetchOptions::new(&args[1], GitReference::branch(&args[2]));
    let dest = std::path::Path::new(&args[3]);
    let checkout = match fetch(&options, dest).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", checkout.resolved.revision);
    if let Some(store) = args.get(4) {
        let result = Storage::new(store, "localhost")
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let filter = Filter::for_dir(dest, None).map_err(|e| e.to_string())?;
                let path = Storage::artifact_path("GitRepository", "bench", "bench", "a.tar.gz")
                    .map_err(|e| e.to_string())?;
                s.archive(&path, &checkout.resolved.revision, dest, &filter)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(a) => println!("{} {} bytes", a.digest, a.size),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
}
