//! [`SqlValue`] to and from PostgreSQL's types.
//!
//! SQLite converts between integers, reals and text freely; PostgreSQL types every parameter
//! (inferred when the statement is prepared) and every column. Values are converted here to the
//! type PostgreSQL inferred, so plugin code passes the same `SqlValue`s to both backends.

use std::error::Error;

use kino_api::SqlValue;
use postgres::types::{FromSql, IsNull, ToSql, Type};

type BoxError = Box<dyn Error + Sync + Send>;

/// A parameter, converted to whatever type the prepared statement asks for.
#[derive(Debug)]
pub struct Param<'a>(pub &'a SqlValue);

fn mismatch(v: &SqlValue, ty: &Type) -> BoxError {
    format!("cannot pass {v:?} as a PostgreSQL {ty}").into()
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let v = self.0;
        match v {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ if is_text(ty) => i.to_string().to_sql(&Type::TEXT, out),
                _ => Err(mismatch(v, ty)),
            },
            SqlValue::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                // SQLite stores a whole real in an INTEGER column as an integer.
                Type::INT8 if f.fract() == 0.0 => (*f as i64).to_sql(ty, out),
                _ if is_text(ty) => f.to_string().to_sql(&Type::TEXT, out),
                _ => Err(mismatch(v, ty)),
            },
            SqlValue::Text(s) => match *ty {
                _ if is_text(ty) => s.as_str().to_sql(&Type::TEXT, out),
                Type::INT8 => s.trim().parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.trim().parse::<i32>()?.to_sql(ty, out),
                Type::FLOAT8 => s.trim().parse::<f64>()?.to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => Err(mismatch(v, ty)),
            },
            SqlValue::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(mismatch(v, ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column value, whatever its PostgreSQL type.
#[derive(Debug)]
pub struct Column(pub SqlValue);

impl<'a> FromSql<'a> for Column {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let v = match *ty {
            Type::INT8 => SqlValue::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => SqlValue::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => SqlValue::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => SqlValue::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => SqlValue::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => SqlValue::Blob(raw.to_vec()),
            Type::NUMERIC => numeric(raw)?,
            _ if is_text(ty) => SqlValue::Text(String::from_sql(&Type::TEXT, raw)?),
            _ => return Err(format!("column of PostgreSQL type {ty} is not supported").into()),
        };
        Ok(Column(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Column(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary NUMERIC (what `SUM` of integers returns): an integer when it has no
/// fraction and fits, as SQLite's `SUM` gives; a real otherwise.
fn numeric(raw: &[u8]) -> Result<SqlValue, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short NUMERIC".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = word(6)?;
    if sign == 0xC000 {
        return Ok(SqlValue::Real(f64::NAN));
    }
    let negative = sign == 0x4000;
    let mut int: Option<i64> = Some(0);
    let mut real = 0f64;
    for k in 0..ndigits {
        let d = i64::from(word(8 + 2 * k)?);
        let power = weight - k as i32;
        real += d as f64 * 10_000f64.powi(power);
        int = match (int, power) {
            (Some(acc), p) if p >= 0 => u32::try_from(p)
                .ok()
                .and_then(|p| 10_000i64.checked_pow(p))
                .and_then(|m| d.checked_mul(m))
                .and_then(|x| acc.checked_add(x)),
            (acc, _) if d == 0 => acc,
            _ => None,
        };
    }
    Ok(match int {
        Some(i) if dscale == 0 => SqlValue::Int(if negative { -i } else { i }),
        _ => SqlValue::Real(if negative { -real } else { real }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode_like_sqlite_sums() {
        // 123456789 = 1 | 2345 | 6789, weight 2.
        let raw = num(3, 2, 0, 0, &[1, 2345, 6789]);
        assert_eq!(numeric(&raw).unwrap(), SqlValue::Int(123_456_789));
        let raw = num(1, 1, 0x4000, 0, &[5]);
        assert_eq!(numeric(&raw).unwrap(), SqlValue::Int(-50_000));
        let raw = num(2, 0, 0, 1, &[2, 5000]);
        assert_eq!(numeric(&raw).unwrap(), SqlValue::Real(2.5));
        assert_eq!(numeric(&num(0, 0, 0, 0, &[])).unwrap(), SqlValue::Int(0));
    }
}
