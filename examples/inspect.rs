//! Development helper: `cargo run --example inspect -- FILE...` prints the
//! inspect JSON lines (the real CLI is `duty-desk inspect`).
fn main() -> anyhow::Result<()> {
    let files: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let ctx = duty_desk::request::Context::default();
    duty_desk::inspect::run(&files, &ctx, &mut std::io::stdout().lock())
}
