// Feature module of the admin page (see main.js for the userlog:* events it can listen to).
export {}
