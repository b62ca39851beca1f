//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of fieldsync from the built
//! library (see `bindings/README.md`). The `generate` command of uniffi's own CLI, over the
//! generator release the workspace pins with `uniffi`.

use camino::Utf8PathBuf;
use clap::{Parser, Subcommand, ValueEnum};
use uniffi_bindgen::bindings::{GenerateOptions, TargetLanguage, generate};

/// The command line.
#[derive(Parser)]
#[command(name = "uniffi-bindgen", version, about = "Generates fieldsync's foreign bindings")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Subcommand)]
enum Command {
    /// Generates the bindings of a built library (library mode: the uniffi metadata in it, and
    /// each crate's `uniffi.toml`).
    Generate {
        /// The unstripped cdylib (`libfieldsync_bindings.so`, `.dylib`, `.a`).
        source: Utf8PathBuf,
        /// A language to generate; repeat for several.
        #[arg(long, short, value_enum, required = true)]
        language: Vec<Language>,
        /// Where the generated sources go.
        #[arg(long, short)]
        out_dir: Utf8PathBuf,
        /// Leave the sources unformatted (no ktlint, swiftformat or yapf run).
        #[arg(long, short)]
        no_format: bool,
        /// A `uniffi.toml` used instead of each crate's own.
        #[arg(long, short)]
        config: Option<Utf8PathBuf>,
        /// Only the bindings of this crate.
        #[arg(long = "crate")]
        crate_name: Option<String>,
        /// Accepted for uniffi CLI compatibility: a library is always read in library mode.
        #[arg(long = "library", hide = true)]
        _library: bool,
    },
}

/// The languages the phone apps and the tests use.
#[derive(Clone, Copy, ValueEnum)]
enum Language {
    Kotlin,
    Swift,
    Python,
}

impl From<Language> for TargetLanguage {
    fn from(language: Language) -> Self {
        match language {
            Language::Kotlin => Self::Kotlin,
            Language::Swift => Self::Swift,
            Language::Python => Self::Python,
        }
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { source, language, out_dir, no_format, config, crate_name, .. } => {
            generate(GenerateOptions {
                languages: language.into_iter().map(TargetLanguage::from).collect(),
                source,
                out_dir,
                config_override: config,
                format: !no_format,
                crate_filter: crate_name,
                metadata_no_deps: false,
            })
        }
    }
}
