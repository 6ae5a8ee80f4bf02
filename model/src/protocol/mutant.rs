//! Deliberately broken protocols ([`Mutant`]), kept so tests can show the model checker
//! catches each, and every place one changes what the protocol does: the hot paths ask the
//! predicates below (`self.config.mutant_skips_*()`), so each deliberate bug is read here.
//! `no-atomic` acts before the protocol, where `crate::command` resolves `pairsplit
//! --atomic` into one split command per mirror.

use super::ProtocolConfig;

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
    pub(crate) const ALL: [Mutant; 4] = [
        Mutant::NoAtomic,
        Mutant::NoDrain,
        Mutant::NoInhibit,
        Mutant::NocopyUnchecked,
    ];

    /// The name `--mutant` and `[protocol] mutant` take.
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

/// The mutants' effects, one predicate each: true only under that mutant.
impl ProtocolConfig {
    /// `paircreate --nocopy` pairs volumes without checking they are identical (Fig 12), at
    /// a local mirror's system and at a remote mirror's secondary ([`Mutant::NocopyUnchecked`]).
    #[inline]
    pub(super) fn mutant_skips_nocopy_check(&self) -> bool {
        self.mutant == Some(Mutant::NocopyUnchecked)
    }

    /// An atomic split through a sync mirror does not inhibit host I/O (Fig 10 step 1120
    /// skipped: [`Mutant::NoInhibit`]).
    #[inline]
    pub(super) fn mutant_skips_inhibit(&self) -> bool {
        self.mutant == Some(Mutant::NoInhibit)
    }

    /// A split forwarded on the host network leaves without waiting for the copy data sent
    /// before it to be acknowledged (Fig 11 step 1220 skipped: [`Mutant::NoDrain`]).
    #[inline]
    pub(super) fn mutant_skips_drain(&self) -> bool {
        self.mutant == Some(Mutant::NoDrain)
    }
}
