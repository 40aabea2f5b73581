pub(crate) fn bench(_a: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
