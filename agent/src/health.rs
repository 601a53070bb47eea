//! What `/healthz` answers: 200 only when the applied build is the watched
//! one and the last check found no difference left unrepaired.

use crate::watched::BuildId;

/// The agent's view of its node, updated by the agent loop, read by HTTP.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// The build the kernel holds (applied or adopted by this agent).
    pub applied: Option<BuildId>,
    /// The watched build, or why it was not applied (refused, or its apply
    /// failed); `None` until there is one to read.
    pub watched: Option<Result<BuildId, String>>,
    /// Differences the last check found and the repair did not fix.
    pub unrepaired: Option<String>,
}

impl Health {
    /// `Ok(text)` for 200, `Err(reason)` for 503.
    pub fn verdict(&self) -> Result<String, String> {
        let applied = self.applied.as_ref();
        match (&self.watched, applied) {
            (None, Some(applied)) => {
                Err(format!("there is no watched build (yet); the node keeps build {}", applied.digest))
            }
            (None, None) => Err("there is no watched build yet".into()),
            (Some(Err(reason)), Some(applied)) => {
                Err(format!("the watched build is not applied: {reason}; the node keeps build {}", applied.digest))
            }
            (Some(Err(reason)), None) => Err(format!("the watched build is not applied: {reason}; no build applied")),
            (Some(Ok(_)), None) => Err("no build applied yet".into()),
            (Some(Ok(watched)), Some(applied)) if watched != applied => {
                Err(format!("build {} is applied, the watched one is {}", applied.digest, watched.digest))
            }
            (Some(Ok(_)), Some(applied)) => match &self.unrepaired {
                Some(drift) => Err(format!("the kernel differs from build {} (not repaired): {drift}", applied.digest)),
                None => Ok(format!("build {} of cluster {} applied, no drift", applied.digest, applied.cluster)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(digest: &str) -> BuildId {
        BuildId { digest: digest.into(), cluster: "c".into() }
    }

    #[test]
    fn healthy_only_when_the_watched_build_is_applied_without_drift() {
        let mut health = Health::default();
        assert_eq!(health.verdict().unwrap_err(), "there is no watched build yet");
        health.watched = Some(Ok(id("a")));
        assert_eq!(health.verdict().unwrap_err(), "no build applied yet");
        health.applied = Some(id("a"));
        assert!(health.verdict().is_ok());
        health.unrepaired = Some("cilium_lxc 10.0.0.1 missing".into());
        assert!(health.verdict().unwrap_err().contains("not repaired"));
        health.unrepaired = None;
        health.watched = Some(Err("manifest.json: bad digest".into()));
        assert!(health.verdict().unwrap_err().contains("bad digest"));
        health.watched = Some(Ok(id("b")));
        assert!(health.verdict().unwrap_err().contains("the watched one is b"));
    }
}
