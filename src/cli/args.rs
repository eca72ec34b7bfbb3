//! Parsers of the command line's values (points, ranges, sizes): each refuses what is not a
//! finite, sensible value with a one-line reason clap prints as a usage error.

/// A finite number (NaN and infinity are words Rust's parser also accepts).
pub fn parse_finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a finite number")),
    }
}

pub fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(':').ok_or("expected LO:HI, e.g. 200:600")?;
    let lo = parse_finite(a)?;
    let hi = parse_finite(b)?;
    if lo > hi {
        return Err("LO must not exceed HI".into());
    }
    Ok((lo, hi))
}

pub fn parse_point(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{t}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([*x, *y, *z]),
        [_, _, _] => Err("coordinates must be finite numbers (mm)".into()),
        _ => Err("expected X,Y,Z in mm".into()),
    }
}

pub fn parse_size(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err("expected NXxNYxNZ, e.g. 256x256x200".into());
    };
    let n = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{t}' is not a whole number"))
    };
    Ok([n(a)?, n(b)?, n(c)?])
}

pub fn parse_sigma(s: &str) -> Result<f64, String> {
    use twinplan::surface::{MAX_MASK_SIGMA_MM, MIN_MASK_SIGMA_MM};
    let v = parse_finite(s)?;
    if v == 0.0 || (MIN_MASK_SIGMA_MM..=MAX_MASK_SIGMA_MM).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "σ must be 0 or between {MIN_MASK_SIGMA_MM} and {MAX_MASK_SIGMA_MM} mm"
        ))
    }
}

pub fn parse_window_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h
        .trim()
        .parse()
        .map_err(|_| format!("bad height in {s:?}"))?;
    if !(320..=8192).contains(&w) || !(240..=8192).contains(&h) {
        return Err(format!(
            "window size {w}x{h} out of range (320x240 to 8192x8192)"
        ));
    }
    Ok((w, h))
}
