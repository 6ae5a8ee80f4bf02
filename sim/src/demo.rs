//! The embedded demo that `mirrorlab` with no arguments runs.

/// For now: the Fig 5 + Fig 12 walk-through with pairdisplay after each step.
pub fn run() -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    mirrorlab_model::walkthrough::fig5(&mut stdout.lock())?;
    Ok(())
}
