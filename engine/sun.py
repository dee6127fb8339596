"""Night: whether the sun is below the horizon at a fix's place and time (a feature detectors and scores use).

Solar position after the NOAA Global Monitoring Laboratory's solar calculator (Meeus, *Astronomical
Algorithms*, low-precision formulas): declination and equation of time from the fractional year, then the hour
angle; good to a fraction of a degree between 1950 and 2050, far finer than "day or night" needs.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel, read_only

US_PER_DAY = 86_400_000_000
HORIZON_DEG = -0.833  # the sun's upper limb on the horizon, with refraction (the usual sunrise/sunset definition)
CIVIL_DUSK_DEG = -6.0  # civil twilight ends: dark enough that a transfer at sea is hard to see from shore


@kernel
def _sun(t_us):
    """Where the sun is at UTC time ``t_us`` (µs): right ascension and declination (radians) and Greenwich mean
    sidereal time (degrees). The costly part of an elevation, and the same for every place."""
    days = t_us / US_PER_DAY  # days since 1970-01-01 00:00 UTC
    jd = days + 2440587.5
    n = jd - 2451545.0  # days since J2000.0
    g = np.radians((357.529 + 0.98560028 * n) % 360.0)  # mean anomaly
    q = (280.459 + 0.98564736 * n) % 360.0  # mean longitude
    ecl_lon = np.radians(q + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    eps = np.radians(23.439 - 0.00000036 * n)  # obliquity of the ecliptic
    ra = np.arctan2(np.cos(eps) * np.sin(ecl_lon), np.cos(ecl_lon))
    dec = np.arcsin(np.sin(eps) * np.sin(ecl_lon))
    gmst_deg = ((18.697374558 + 24.06570982441908 * n) % 24.0) * 15.0  # Greenwich mean sidereal time
    return ra, dec, gmst_deg


@kernel
def _sines(t_us, lat, lon, out):
    """Sine of the sun's elevation for each fix; NaN for a missing position or time. Fixes come in bursts with one time
    (a station stamps whole seconds), so the sun's place is computed again only when the time changes."""
    have = False
    last_t = 0.0
    ra = dec = gmst_deg = 0.0
    for i in range(t_us.shape[0]):
        if np.isnan(lat[i]) or np.isnan(lon[i]) or np.isnan(t_us[i]):
            out[i] = np.nan
            continue
        if not have or t_us[i] != last_t:
            ra, dec, gmst_deg = _sun(t_us[i])
            last_t = t_us[i]
            have = True
        hour_angle = np.radians(gmst_deg + lon[i]) - ra
        phi = np.radians(lat[i])
        sin_el = np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(hour_angle)
        out[i] = min(1.0, max(-1.0, sin_el))


def _sun_sines(t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    t_us, lat, lon = (read_only(np.ascontiguousarray(a, np.float64)) for a in (t_us, lat, lon))
    if not t_us.shape == lat.shape == lon.shape:
        raise ValueError(f"t_us, lat and lon must have one shape, got {t_us.shape}, {lat.shape}, {lon.shape}")
    out = np.empty(t_us.shape[0], np.float64)
    _sines(t_us, lat, lon, out)
    return out


def sun_elevation(t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Sun elevation (degrees) for each fix: UTC microseconds and WGS-84 degrees."""
    return np.degrees(np.arcsin(_sun_sines(t_us, lat, lon)))


def is_night(t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, below_deg: float = HORIZON_DEG) -> np.ndarray:
    """True where the sun is below ``below_deg`` (the horizon by default; CIVIL_DUSK_DEG for darkness). Compared
    as sines (the elevation's arcsine is monotonic), which saves an arcsine per fix."""
    with np.errstate(invalid="ignore"):
        return _sun_sines(t_us, lat, lon) < np.sin(np.radians(below_deg))
