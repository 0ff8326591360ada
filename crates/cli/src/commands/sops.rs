//! `keelson sops encrypt|decrypt`: the sops file format with age keys, compatible with the `sops`
//! tool. Keys and recipients come from flags, then the environment variables sops reads
//! (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, `SOPS_AGE_RECIPIENTS`, the user's
//! `sops/age/keys.txt`), then `.sops.yaml` creation rules (found from the current directory
//! upwards, as sops does).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keelson_sops::config::Config;
use keelson_sops::{EncryptSettings, Format, Identities, Recipient};

use crate::Exit;

/// Environment variable naming an age identity file.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
/// Environment variable holding age identities.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
/// Environment variable holding comma-separated age recipients.
pub const SOPS_AGE_RECIPIENTS: &str = "SOPS_AGE_RECIPIENTS";

/// Arguments of `keelson sops`.
#[derive(Debug, clap::Args)]
pub struct SopsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SopsCommand,
}

/// `keelson sops` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SopsCommand {
    /// Decrypt a sops file and print the plaintext (like `sops -d`).
    Decrypt(DecryptArgs),
    /// Encrypt a file in the sops format with age recipients (like `sops -e`).
    Encrypt(EncryptArgs),
}

/// Options shared by both subcommands.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The file to read.
    pub file: PathBuf,
    /// The file format (yaml, json, dotenv, ini, binary); from the extension by default.
    #[arg(long)]
    pub input_type: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace the file with the result.
    #[arg(long, short = 'i')]
    pub in_place: bool,
}

/// Arguments of `keelson sops decrypt`.
#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Input and output.
    #[command(flatten)]
    pub file: FileArgs,
    /// An age identity file (as written by age-keygen); may be repeated. Defaults to
    /// $SOPS_AGE_KEY_FILE, $SOPS_AGE_KEY and the user's sops/age/keys.txt.
    #[arg(long = "age-key-file")]
    pub age_key_file: Vec<PathBuf>,
}

/// Arguments of `keelson sops encrypt`.
#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Input and output.
    #[command(flatten)]
    pub file: FileArgs,
    /// Comma-separated age recipients (age1…). Defaults to $SOPS_AGE_RECIPIENTS, then the
    /// matching `.sops.yaml` creation rule.
    #[arg(long)]
    pub age: Option<String>,
    /// Encrypt only values whose key (or a parent key) matches this regex.
    #[arg(long)]
    pub encrypted_regex: Option<String>,
    /// Leave in clear the values whose key (or a parent key) matches this regex.
    #[arg(long)]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values whose key (or a parent key) ends with this suffix.
    #[arg(long)]
    pub encrypted_suffix: Option<String>,
    /// Leave in clear the values whose key (or a parent key) ends with this suffix.
    #[arg(long)]
    pub unencrypted_suffix: Option<String>,
    /// Compute the MAC over the encrypted values only.
    #[arg(long)]
    pub mac_only_encrypted: bool,
}

/// Runs `keelson sops`.
pub fn run(args: &SopsArgs) -> anyhow::Result<Exit> {
    match &args.command {
        SopsCommand::Decrypt(a) => decrypt(a),
        SopsCommand::Encrypt(a) => encrypt(a),
    }
}

fn format_of(args: &FileArgs) -> anyhow::Result<Format> {
    match &args.input_type {
        Some(name) => Format::from_name(name).with_context(|| {
            format!("unknown --input-type {name:?} (yaml, json, dotenv, ini, binary)")
        }),
        None => Ok(Format::from_path(&args.file)),
    }
}

/// `.sops.yaml` (or `.sops.yml`) in the current directory or a parent, as sops looks it up.
fn find_config() -> anyhow::Result<Option<(PathBuf, Config)>> {
    let mut dir = std::env::current_dir().context("failed to read the current directory")?;
    loop {
        let path = dir.join(".sops.yaml");
        if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let config = Config::parse(&text).with_context(|| format!("in {}", path.display()))?;
            return Ok(Some((path, config)));
        }
        if !dir.pop() {
            return Ok(None);
        }
    }
}

fn user_key_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let path = base.join("sops/age/keys.txt");
    path.is_file().then_some(path)
}

fn load_identities(files: &[PathBuf]) -> anyhow::Result<Identities> {
    let mut ids = Identities::new();
    let add_file = |path: &Path, ids: &mut Identities| -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read age key file {}", path.display()))?;
        ids.add_text(&text, &path.display().to_string())?;
        Ok(())
    };
    if !files.is_empty() {
        for f in files {
            add_file(f, &mut ids)?;
        }
        return Ok(ids);
    }
    if let Some(text) = std::env::var_os(SOPS_AGE_KEY) {
        ids.add_text(&text.to_string_lossy(), SOPS_AGE_KEY)?;
    }
    if let Some(path) = std::env::var_os(SOPS_AGE_KEY_FILE) {
        add_file(Path::new(&path), &mut ids)?;
    }
    if let Some(path) = user_key_file() {
        add_file(&path, &mut ids)?;
    }
    Ok(ids)
}

fn write_output(args: &FileArgs, bytes: &[u8]) -> anyhow::Result<()> {
    let target = if args.in_place {
        Some(args.file.clone())
    } else {
        args.output.clone()
    };
    match target {
        Some(path) => std::fs::write(&path, bytes)
            .with_context(|| format!("failed to write {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .context("failed to write to standard output")?;
            out.flush().context("failed to write to standard output")
        }
    }
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))
}

fn decrypt(args: &DecryptArgs) -> anyhow::Result<Exit> {
    let format = format_of(&args.file)?;
    let input = read_input(&args.file.file)?;
    let stores = find_config()?.map(|(_, c)| c.stores).unwrap_or_default();
    let ids = load_identities(&args.age_key_file)?;
    let plain = keelson_sops::decrypt(&input, format, &ids, &stores).with_context(|| {
        let hint = if ids.is_empty() {
            format!(" (hint: pass --age-key-file, or set {SOPS_AGE_KEY_FILE} or {SOPS_AGE_KEY})")
        } else {
            String::new()
        };
        format!("failed to decrypt {}{hint}", args.file.file.display())
    })?;
    write_output(&args.file, &plain)?;
    Ok(Exit::Success)
}

fn encrypt(args: &EncryptArgs) -> anyhow::Result<Exit> {
    let format = format_of(&args.file)?;
    let input = read_input(&args.file.file)?;
    let config = find_config()?;
    let stores = config.as_ref().map(|(_, c)| c.stores).unwrap_or_default();
    let recipients = args
        .age
        .clone()
        .or_else(|| std::env::var(SOPS_AGE_RECIPIENTS).ok())
        .filter(|r| !r.trim().is_empty());
    let mut settings = match (recipients, &config) {
        (Some(list), _) => EncryptSettings::new(Recipient::parse_list(&list)?),
        (None, Some((path, config))) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let file = std::path::absolute(&args.file.file)
                .with_context(|| format!("failed to resolve {}", args.file.file.display()))?;
            let rel = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            config
                .settings_for(&rel)
                .with_context(|| format!("in {}", path.display()))?
        }
        (None, None) => bail!(
            "no age recipients: pass --age, set {SOPS_AGE_RECIPIENTS}, or add a .sops.yaml creation rule"
        ),
    };
    let rules = &mut settings.rules;
    let flag_rules = [
        (&args.encrypted_regex, &mut rules.encrypted_regex),
        (&args.unencrypted_regex, &mut rules.unencrypted_regex),
        (&args.encrypted_suffix, &mut rules.encrypted_suffix),
        (&args.unencrypted_suffix, &mut rules.unencrypted_suffix),
    ];
    let any_flag = flag_rules.iter().any(|(flag, _)| flag.is_some());
    if any_flag {
        // Flags replace the rule from .sops.yaml.
        for (flag, slot) in flag_rules {
            *slot = flag.clone();
        }
        rules.unencrypted_comment_regex = None;
        rules.encrypted_comment_regex = None;
    }
    if args.mac_only_encrypted {
        rules.mac_only_encrypted = true;
    }
    let out = keelson_sops::encrypt(&input, format, &settings, &stores)
        .with_context(|| format!("failed to encrypt {}", args.file.file.display()))?;
    write_output(&args.file, &out)?;
    Ok(Exit::Success)
}
