/** The theme boot script: runs before React so the page never flashes the wrong theme. @module */
import { STORAGE_KEYS } from "./api/settings.js";

/** Sets `data-theme` on `<html>` from the saved choice, else the system preference. */
export const THEME_BOOT_SCRIPT = `try{var t=localStorage.getItem(${JSON.stringify(
  STORAGE_KEYS.theme,
)});if(t!=="light"&&t!=="dark")t=matchMedia("(prefers-color-scheme: light)").matches?"light":"dark";document.documentElement.dataset.theme=t}catch(e){document.documentElement.dataset.theme="dark"}`;
