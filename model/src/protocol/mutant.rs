//! Deliberately broken protocols ([`Mutant`]), kept so tests can show the model checker
//! catches each.

/// Deliberately broken protocols, kept so tests can show the model checker catches each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// Each mirror of an atomic split is split by its own command (see [`crate::command`]).
    NoAtomic,
    /// The split is forwarded on the host network without waiting for copy data in flight.
    NoDrain,
    /// Sync mirrors do not inhibit host I/O during an atomic split (Fig 10 step 1120 skipped).
    NoInhibit,
    /// `paircreate --nocopy` does not check the volumes are identical.
    NocopyUnchecked,
}

impl Mutant {
    pub const ALL: [Mutant; 4] = [
        Mutant::NoAtomic,
        Mutant::NoDrain,
        Mutant::NoInhibit,
        Mutant::NocopyUnchecked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutant::NoAtomic => "no-atomic",
            Mutant::NoDrain => "no-drain",
            Mutant::NoInhibit => "no-inhibit",
            Mutant::NocopyUnchecked => "nocopy-unchecked",
        }
    }
}

impl std::str::FromStr for Mutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "expected a mutant (no-atomic, no-drain, no-inhibit, nocopy-unchecked), found {s:?}"
                )
            })
    }
}
