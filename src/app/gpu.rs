//! Is there a graphics adapter? Asked before the Bevy app is built, because Bevy's
//! `RenderPlugin` panics when it finds none; with none, the user gets a plain sentence
//! saying what is missing and which commands still work. Uses wgpu (the same crate and
//! version Bevy renders with); no window, no Bevy.

/// What the probe found: the adapter's name, driver and kind, as the user reads it.
pub fn probe() -> Result<String, String> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let request = instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::default(),
        force_fallback_adapter: false,
        compatible_surface: None,
    });
    match bevy::tasks::block_on(request) {
        Ok(adapter) => Ok(describe(&adapter.get_info())),
        Err(e) => Err(format!(
            "no usable graphics adapter was found ({e}). The workstation, `render` and \
             `frames` draw with Vulkan: install the GPU's Vulkan driver, or Mesa's software \
             renderer lavapipe (Debian/Ubuntu: apt-get install mesa-vulkan-drivers). \
             Everything else works without one: `info`, `convert`, `mesh`, `phantom`."
        )),
    }
}

/// `llvmpipe (LLVM 15.0.6, 256 bits), Mesa 22.3.6 (Vulkan, Cpu)`.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = info.name.clone();
    if !driver.is_empty() {
        text.push_str(&format!(", {driver}"));
    }
    text.push_str(&format!(" ({:?}, {:?})", info.backend, info.device_type));
    text
}

/// Fails with [`probe`]'s sentence when there is no adapter; logs the one found.
pub fn require() -> anyhow::Result<String> {
    let found = probe().map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!("graphics adapter: {found}");
    Ok(found)
}
