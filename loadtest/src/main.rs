use std::process::ExitCode;

use clap::Parser;
use transport_load::cli::{Cli, Command, RunArgs};
use transport_load::{proc, report, LoadError};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Run(args) => run(args).await,
        Command::Report(args) => report::report(args).map(|report| {
            println!("{} runs → {} and {}", report.runs.len(), args.out_json.display(), args.out_markdown.display());
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("transport-load: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &RunArgs) -> Result<(), LoadError> {
    let options = args.options().map_err(LoadError::Protocol)?;
    match proc::raise_open_files_limit() {
        Ok(limit) if limit < u64::from(options.clients) + 100 => {
            eprintln!("warning: only {limit} open files allowed; {} clients need one socket each", options.clients)
        }
        Ok(_) => {}
        Err(error) => eprintln!("warning: could not raise the open-files limit: {error}"),
    }
    let outcome = transport_load::run(&options).await?;
    println!("{}; {}", report::summary_line(&outcome.run), outcome.order_line());
    if let Some(path) = &args.json {
        report::write(path, &serde_json::to_vec_pretty(&outcome.run)?)?;
    }
    Ok(())
}
