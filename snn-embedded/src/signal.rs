//! `embedded-hal` output pins that show what the runner does: a busy pin high during
//! inference, and a result pin set when the last classification matched.

use embedded_hal::digital::OutputPin;

/// A busy pin and a result pin.
#[derive(Debug)]
pub struct Signals<B, R> {
    busy: B,
    result: R,
}

impl<B: OutputPin, R: OutputPin<Error = B::Error>> Signals<B, R> {
    /// Takes the pins; both are driven low.
    ///
    /// # Errors
    /// The pins' error.
    pub fn new(mut busy: B, mut result: R) -> Result<Self, B::Error> {
        busy.set_low()?;
        result.set_low()?;
        Ok(Self { busy, result })
    }

    /// Runs `f` with the busy pin high, then shows `ok(result)` on the result pin.
    ///
    /// ```
    /// use embedded_hal_mock::eh1::digital::{Mock, State, Transaction as T};
    /// let busy = Mock::new(&[T::set(State::Low), T::set(State::High), T::set(State::Low)]);
    /// let result = Mock::new(&[T::set(State::Low), T::set(State::High)]);
    /// let mut s = snn_embedded::signal::Signals::new(busy, result).unwrap();
    /// let class = s.busy_while(|| 7u16, |c| *c == 7).unwrap();
    /// assert_eq!(class, 7);
    /// let (mut b, mut r) = s.release();
    /// b.done();
    /// r.done();
    /// ```
    ///
    /// # Errors
    /// The pins' error.
    pub fn busy_while<T>(
        &mut self,
        f: impl FnOnce() -> T,
        ok: impl FnOnce(&T) -> bool,
    ) -> Result<T, B::Error> {
        self.busy.set_high()?;
        let out = f();
        self.busy.set_low()?;
        if ok(&out) {
            self.result.set_high()?;
        } else {
            self.result.set_low()?;
        }
        Ok(out)
    }

    /// Gives the pins back.
    pub fn release(self) -> (B, R) {
        (self.busy, self.result)
    }
}
